"""Shared helpers for the recipe tests.

`assert_exact_resume` is the exact-resume contract every recipe must meet: a run interrupted at
a checkpoint (Ctrl-C, or a crash after a periodic checkpoint) and resumed in a fresh `RunDir`
handle writes the same metrics.csv and summary.json as a run that never stopped. Test modules
in this package use it as `from . import assert_exact_resume`.
"""

import json
from pathlib import Path
from types import ModuleType
from typing import Any

from gmrl.core.config import dump_config
from gmrl.core.errors import RunInterrupted
from gmrl.core.rundir import WALL_CLOCK_PREFIX, RunDir


class SimulatedCrash(Exception):
    """Raised by `StopAtStep` in crash mode: the process 'dies' without a Ctrl-C checkpoint."""


class StopAtStep(RunDir):
    """A run directory that presses Ctrl-C (or crashes) once a step >= `stop_at` is logged.

    Ctrl-C mode sets `stop_requested`, as the CLI's SIGINT handler does, so the recipe's
    training loop checkpoints at the end of that step and raises `RunInterrupted`. Crash mode
    raises `SimulatedCrash` from `log` instead, so the run resumes from its last periodic
    checkpoint and must drop the rows logged after it.
    """

    stop_at: int | None = None
    crash: bool = False

    def log(self, step: int, metrics: dict[str, float]) -> None:
        super().log(step, metrics)
        if self.stop_at is not None and step >= self.stop_at:
            if self.crash:
                self.stop_at = None
                raise SimulatedCrash(step)
            self.stop_requested = True


def run_to_end(recipe_module: ModuleType, config: Any, run: RunDir) -> dict[str, Any]:
    """Run a recipe into `run` and write its summary, as `gmrl run` does."""
    try:
        summary = recipe_module.run(config, run)
    finally:
        run.close()
    run.write_summary(summary)
    return summary


def _comparable_summary(path: Path) -> Any:
    """summary.json's text, or (when it holds wall-clock `time/` keys) the rest of it.

    `time/` keys are CPU and wall-clock seconds, which no rerun reproduces (the same convention
    keeps them out of metrics.csv); every other value must match exactly.
    """
    text = path.read_text()
    data = json.loads(text)
    if not any(key.startswith(WALL_CLOCK_PREFIX) for key in data):
        return text
    return {k: v for k, v in data.items() if not k.startswith(WALL_CLOCK_PREFIX)}


def straight_run(recipe_module: ModuleType, config: Any, root: Path) -> Path:
    """A run of `config` that never stops, under `root`; returns its directory."""
    run = RunDir.create(root, config.recipe, dump_config(config), quiet=True)
    run_to_end(recipe_module, config, run)
    return run.path


def assert_same_outputs(run_dir: Path, reference: Path) -> None:
    """metrics.csv byte-identical, summary.json identical (but for wall-clock `time/` keys)."""
    for name in ("metrics.csv",):
        assert (run_dir / name).read_bytes() == (reference / name).read_bytes(), name
    assert _comparable_summary(run_dir / "summary.json") == _comparable_summary(
        reference / "summary.json"
    )


def assert_exact_resume(
    recipe_module: ModuleType, config: Any, tmp_path: Path, stop_at_step: int,
    *, crash: bool = False, reference: Path | None = None,
) -> int:
    """Run `config` straight through, then interrupted at `stop_at_step` and resumed; assert
    metrics.csv and summary.json are identical. Returns the step the interrupted run stopped at.

    `crash=True` stops by an exception instead of Ctrl-C (no checkpoint at the stop), so the
    resumed run starts from the last periodic checkpoint before `stop_at_step`. `reference`, a
    finished `straight_run` directory of the same config, saves running it again.
    """
    prepare = getattr(recipe_module, "prepare", None)
    if prepare is not None:  # as `gmrl run` does before creating a run directory
        prepare(config)
    if reference is None:
        reference = straight_run(recipe_module, config, tmp_path / "straight")

    interrupted = StopAtStep.create(tmp_path / "interrupted", config.recipe,
                                    dump_config(config), quiet=True)
    interrupted.stop_at, interrupted.crash = stop_at_step, crash
    stopped_at: int | None = None
    try:
        recipe_module.run(config, interrupted)
    except RunInterrupted as stop:
        stopped_at = stop.step
    except SimulatedCrash as crashed:
        stopped_at = int(crashed.args[0])
    finally:
        interrupted.close()
    assert stopped_at is not None, f"the run finished without stopping at step {stop_at_step}"
    assert stopped_at >= stop_at_step
    assert not (interrupted.path / "summary.json").exists()
    if not crash:
        latest = json.loads((interrupted.checkpoints_dir / "latest.json").read_text())
        assert latest["step"] == stopped_at, "Ctrl-C must checkpoint the step it stopped at"

    resumed = RunDir.open_existing(interrupted.path, quiet=True)
    run_to_end(recipe_module, config, resumed)
    assert_same_outputs(resumed.path, reference)
    return stopped_at
