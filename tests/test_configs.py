"""Every shipped config validates against its recipe's schema and passes the recipe's checks."""

from pathlib import Path

import pytest

from gmrl.core.config import load_config
from gmrl.recipes import load_recipe
from gmrl.sequence.data import find_shared_file

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").rglob("*.yaml"))


def test_there_are_configs() -> None:
    assert any(path.name == "quickstart.yaml" for path in CONFIGS)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_config_is_valid(path: Path) -> None:
    config = load_config(path, [], lambda name: load_recipe(name).Config)
    if config.recipe == "seqgan" and find_shared_file("seqgan_oracle.npz") is None:
        pytest.skip("seqgan_oracle.npz not found (set GMRL_SHARED_DATA to the shared/data folder)")
    prepare = getattr(load_recipe(config.recipe), "prepare", None)
    if prepare is not None:
        prepare(config)
