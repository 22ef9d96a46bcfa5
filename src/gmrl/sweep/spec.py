"""A sweep's spec (`sweep.yaml`): the base config, the grid, the seeds and the search.

The spec holds the config's YAML mapping itself (with the command's base overrides applied), not
only its path, so a resumed sweep runs exactly the trials it started with even if the file was
edited since. Every trial config is built and validated from it with `trial_config`, which
`validate` calls for every point before Ray starts: a bad key or value is one `ConfigError` line
and nothing is written.
"""

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field

from gmrl.core.checkpoint import atomic_write_text
from gmrl.core.config import (
    RecipeConfig,
    StrictModel,
    apply_overrides,
    read_yaml_mapping,
    validate_config,
)
from gmrl.core.errors import ConfigError, RunDirError, describe_os_error
from gmrl.core.rundir import claim_new_dir, hold_lock
from gmrl.recipes import load_recipe
from gmrl.sweep.grid import Point, grid_points, point_label

SPEC_FILE = "sweep.yaml"
TRIALS = "trials"
# Above this many points only each value on its own is validated (a search samples few of them).
FULL_CHECK_POINTS = 2000


class SweepSpec(StrictModel):
    """Everything that decides which trials a sweep runs (runtime options are not in it)."""

    config: str = Field(description="the config file the base came from (for reference)")
    overrides: list[str] = Field(default_factory=list, description="base overrides given")
    base: dict[str, Any] = Field(description="the config mapping with the base overrides applied")
    grid: dict[str, list[str]] = Field(default_factory=dict, description="key -> raw values")
    seeds: int = Field(1, ge=1, description="each point runs with seed=0..seeds-1")
    search: Literal["grid", "optuna"] = "grid"
    trials: int = Field(10, ge=1, description="points the search picks (optuna only)")
    metric: str | None = Field(None, description="summary figure to search on and plot")
    mode: Literal["max", "min"] | None = Field(
        None, description="which way metric is better (a search needs it; names the best point)"
    )
    cwd: str = Field(description="working directory trials run in (relative paths in configs)")

    @property
    def recipe(self) -> str:
        return str(self.base.get("recipe"))

    def points(self) -> list[Point]:
        return grid_points(self.grid)

    def trial_config(self, point: Point, seed: int) -> RecipeConfig:
        """The validated config of one trial: base, then the point's overrides, then the seed."""
        data = apply_overrides(self.base, [*point.overrides, f"seed={seed}"])
        source = f"{self.config} with {' '.join(point.overrides)}" if point.values else self.config
        config_class: type[RecipeConfig] = load_recipe(self.recipe).Config
        config: RecipeConfig = validate_config(config_class, data, source)
        return config


def trial_name(point: Point, seed: int) -> str:
    """The trial's run directory name under `trials/`."""
    return f"{point.label}-seed{seed}"


def make_spec(config: Path, overrides: list[str], **fields: Any) -> SweepSpec:
    """Read the config file and build the spec; a missing `recipe:` key is one line."""
    base = apply_overrides(read_yaml_mapping(config), overrides)
    name = base.get("recipe")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{config}: missing key 'recipe' naming what to run (see `gmrl list`)")
    load_recipe(name)  # an unknown recipe is one line, with a suggestion
    return SweepSpec(
        config=str(config), overrides=overrides, base=base, cwd=str(Path.cwd()), **fields
    )


def validate(spec: SweepSpec) -> int:
    """Build and check every trial config (and the recipe's `prepare`); return the point count.

    Seeds only change `seed`, so each point is checked with seed 0. A grid larger than
    `FULL_CHECK_POINTS` (for a search) is checked one value at a time.
    """
    points = spec.points()
    if len(points) > FULL_CHECK_POINTS:
        points = [
            Point(point_label([(key, value)]), ((key, value),))
            for key, values in spec.grid.items()
            for value in values
        ]
    prepare = getattr(load_recipe(spec.recipe), "prepare", None)
    for point in points:
        config = spec.trial_config(point, 0)
        if prepare is not None:
            prepare(config)
    return len(spec.points())


def create_sweep_dir(root: Path, recipe: str) -> Path:
    """Make `root/sweep-<recipe>-<timestamp>` (suffixed -2, -3... on collision)."""
    try:
        path = claim_new_dir(root, f"sweep-{recipe}")
        (path / TRIALS).mkdir()
    except OSError as exc:
        raise RunDirError(describe_os_error(exc, "creating the sweep directory")) from exc
    return path


def write_spec(sweep_dir: Path, spec: SweepSpec) -> None:
    atomic_write_text(
        sweep_dir / SPEC_FILE, yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False)
    )


def read_spec(sweep_dir: Path) -> SweepSpec:
    """The spec of an existing sweep directory, or one line saying why it is not one."""
    file = sweep_dir / SPEC_FILE
    if not file.is_file():
        raise ConfigError(f"'{sweep_dir}' is not a gmrl sweep directory (no {SPEC_FILE})")
    spec: SweepSpec = validate_config(SweepSpec, read_yaml_mapping(file), str(file))
    return spec


@contextlib.contextmanager
def sweep_lock(sweep_dir: Path) -> Iterator[None]:
    """Hold the sweep directory's lock: a second `gmrl sweep --resume` on it is refused."""
    with hold_lock(sweep_dir / ".lock", "sweep directory", "gmrl sweep"):
        yield
