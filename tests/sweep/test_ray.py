"""`gmrl sweep` end to end on a local Ray (2 trials), and the one-line error without Ray."""

import ast
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import gmrl
from gmrl.cli import app

from .conftest import MOONS, TINY

cli = CliRunner()
MISSING = "error: gmrl sweep needs Ray: pip install 'gmrl[sweep]'"


def test_without_ray_one_line_and_nothing_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    runs = tmp_path / "runs"
    result = cli.invoke(app, ["sweep", str(MOONS), *TINY, "-g", "epochs=1,2", "--runs", str(runs)])
    assert result.exit_code == 2
    assert result.output.strip() == MISSING
    assert not runs.exists()


def test_no_module_imports_ray_or_optuna_at_import_time() -> None:
    """Ray is imported inside functions only, so `gmrl --help` and the rest work without it."""
    package = Path(gmrl.__file__).parent
    for file in package.rglob("*.py"):
        for node in ast.parse(file.read_text(encoding="utf-8")).body:  # module level only
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            heavy = [n for n in names if n.split(".")[0] in ("ray", "optuna")]
            assert not heavy, f"{file.relative_to(package)} imports {heavy} at module level"


@pytest.fixture
def quiet_ray(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    pytest.importorskip("ray.tune")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    yield
    import ray

    ray.shutdown()


def test_two_trial_sweep_on_local_ray(tmp_path: Path, quiet_ray: None) -> None:
    runs = tmp_path / "runs"
    result = cli.invoke(app, ["sweep", str(MOONS), *TINY, "--grid", "model.name=flow,vae",
                              "--runs", str(runs), "--num-cpus", "2", "--max-concurrent", "2"])
    assert result.exit_code == 0, result.output
    (sweep,) = runs.iterdir()
    assert (sweep / "sweep.yaml").is_file() and (sweep / "tune").is_dir()
    trials = sorted(p.name for p in (sweep / "trials").iterdir() if not p.name.startswith("."))
    assert trials == ["model.name-flow-seed0", "model.name-vae-seed0"]
    for name in trials:  # each a normal run directory
        folder = sweep / "trials" / name
        for file in ("config.yaml", "metrics.csv", "summary.json", "checkpoints/latest.json"):
            assert (folder / file).is_file(), f"{name}/{file}"
        assert f"name: {name.split('-')[1]}" in (folder / "config.yaml").read_text()
    document = json.loads((sweep / "results.json").read_text())
    assert [(p["point"], p["n"]) for p in document["points"]] == [
        ("model.name-flow", 1), ("model.name-vae", 1)]
    mmd = json.loads((sweep / "trials" / "model.name-vae-seed0" / "summary.json").read_text())
    assert document["points"][1]["figures"]["mmd"]["mean"] == mmd["mmd"]
    assert document["metric"] == "mmd" and (sweep / "plots" / "mmd.png").is_file()
    assert "model.name-vae" in result.output
    # a finished sweep resumes to nothing but a new table (no Ray needed)
    again = cli.invoke(app, ["sweep", "--resume", str(sweep), "--metric", "test_log_likelihood"])
    assert again.exit_code == 0, again.output
    assert (sweep / "plots" / "test_log_likelihood.png").is_file()
