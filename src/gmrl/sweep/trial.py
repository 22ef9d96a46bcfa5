"""One sweep trial: a recipe run into a normal run directory, and the Ray trainable around it.

`run_trial` is plain Python (no Ray): it runs one recipe config into
`<sweep_dir>/trials/<point>-seed<k>/`, exactly the directory `gmrl run` would leave. A trial whose
directory already holds `summary.json` is done and is not run again; one that was cut short
continues from its last checkpoint through the recipe's own resume (`TrainingLoop.resume`), so a
resumed sweep writes the same metrics as an uninterrupted one. `trainable` is what Ray Tune runs
in a worker: one torch thread, the sweep's working directory, then `run_trial`, then one report.
"""

import contextlib
import fcntl
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gmrl.core.checkpoint import atomic_write_text
from gmrl.core.config import dump_config
from gmrl.core.errors import GmrlError, describe_os_error
from gmrl.core.rundir import RunDir
from gmrl.recipes import load_recipe
from gmrl.sweep.grid import Point, point_of
from gmrl.sweep.spec import TRIALS, SweepSpec, trial_name

POINT_KEY = "gmrl_point"  # reported beside the figures: which grid point a search trial ran


class TrialFailed(Exception):
    """A trial that could not finish; its message is one line (raised inside a Ray worker)."""


def search_key(index: int) -> str:
    """The name of grid key number `index` in a search's parameter space (dots are avoided)."""
    return f"g{index}"


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    """A finished run's summary.json, or None when the run has not finished."""
    file = run_dir / "summary.json"
    if not file.is_file():
        return None
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None  # a torn or unreadable summary: the trial runs (resumes) again
    return data if isinstance(data, dict) else None


def numeric_figures(summary: dict[str, Any]) -> dict[str, float]:
    """The summary's finite numbers (booleans, strings and nulls left out)."""
    return {
        key: float(value)
        for key, value in summary.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool)
        and math.isfinite(value)
    }


@contextlib.contextmanager
def _claim(run_dir: Path) -> Iterator[None]:
    """Wait for, then hold, the right to run `run_dir` (a search may pick one point twice)."""
    with (run_dir.parent / f".{run_dir.name}.claim").open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield


def run_trial(sweep_dir: Path, spec: SweepSpec, point: Point, seed: int) -> dict[str, Any]:
    """Run (or resume, or reuse) one trial and return its summary; failures are `TrialFailed`."""
    path = sweep_dir / TRIALS / trial_name(point, seed)
    try:
        config = spec.trial_config(point, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        with _claim(path):
            done = read_summary(path)
            if done is not None:
                return done
            for folder in (path, path / "checkpoints", path / "plots"):
                folder.mkdir(exist_ok=True)
            if not (path / "config.yaml").is_file():
                atomic_write_text(path / "config.yaml", dump_config(config))
            recipe = load_recipe(config.recipe)
            with RunDir(path, quiet=True, recipe=config.recipe) as run:
                summary = recipe.run(config, run)
                run.commit_config()
                run.write_summary(summary)
    except GmrlError as exc:
        raise TrialFailed(f"{path.name}: {exc}") from None
    except OSError as exc:
        raise TrialFailed(f"{path.name}: {describe_os_error(exc, 'running the trial')}") from None
    finished = read_summary(path)
    if finished is None:  # pragma: no cover - write_summary just wrote it
        raise TrialFailed(f"{path.name}: summary.json could not be read back")
    return finished


def mean_figures(summaries: list[dict[str, Any]]) -> dict[str, float]:
    """Per figure, the mean over the summaries that have it (what a search trial reports)."""
    values: dict[str, list[float]] = {}
    for summary in summaries:
        for key, value in numeric_figures(summary).items():
            values.setdefault(key, []).append(value)
    return {key: sum(found) / len(found) for key, found in values.items()}


def trainable(config: dict[str, Any], sweep_dir: str, spec_data: dict[str, Any]) -> None:
    """Ray Tune's function trainable: run one grid trial, or one searched point for every seed.

    A grid trial's `config` is `{"trial": name}`; a search trial's holds each grid key's raw
    value under `search_key(i)`. Reports the summary's figures (a search: their means over seeds).
    """
    import torch
    from ray import tune

    torch.set_num_threads(1)  # trials share the machine's cores: one thread each
    spec = SweepSpec.model_validate(spec_data)
    if Path(spec.cwd).is_dir():  # configs name files relative to where `gmrl sweep` ran
        os.chdir(spec.cwd)
    root = Path(sweep_dir)
    if spec.search == "grid":
        trials = {trial_name(p, s): (p, s) for p in spec.points() for s in range(spec.seeds)}
        point, seed = trials[str(config["trial"])]
        summaries = [run_trial(root, spec, point, seed)]
    else:
        chosen = {key: str(config[search_key(i)]) for i, key in enumerate(spec.grid)}
        point = point_of(spec.grid, chosen)
        summaries = [run_trial(root, spec, point, seed) for seed in range(spec.seeds)]
    figures = mean_figures(summaries)
    if spec.metric is not None and spec.search != "grid" and spec.metric not in figures:
        raise TrialFailed(
            f"the summary has no numeric figure '{spec.metric}' to search on: use --metric with "
            f"one of {', '.join(sorted(figures)) or '(none)'}"
        )
    tune.report({**figures, POINT_KEY: point.label})
