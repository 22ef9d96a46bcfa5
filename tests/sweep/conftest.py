"""Shared helpers for the sweep tests: a tiny, fast generative config and a spec builder."""

from pathlib import Path

from gmrl.sweep.grid import parse_grid
from gmrl.sweep.spec import SweepSpec, make_spec

ROOT = Path(__file__).resolve().parents[2]
MOONS = ROOT / "configs" / "generative" / "moons_flow.yaml"
TINY = ["epochs=2", "n_train=256", "n_test=64", "eval_samples=64", "eval_every=1"]


def tiny_spec(grid: list[str], seeds: int = 1, **fields: object) -> SweepSpec:
    """A sweep spec over the two-moons config, shrunk to run in a second or two per trial."""
    return make_spec(MOONS, list(TINY), grid=parse_grid(grid), seeds=seeds, **fields)
