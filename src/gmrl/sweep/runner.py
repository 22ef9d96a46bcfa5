"""Ray Tune for a sweep: run the unfinished trials, report back.

Ray is imported only when a sweep runs, so the rest of gmrl works without it (`require_ray` turns
its absence into one line naming the extra). Starting or joining Ray is `gmrl.core.raysession`'s
(shared with `gmrl bench`): a quiet local Ray by default, `address` joins a running cluster
(`ray://HOST:PORT` or `auto`).

Resuming needs no Tune state: a grid trial is done when its run directory holds summary.json,
so a resumed sweep launches only the others (each continuing from its own checkpoint). A search
(`optuna`) records every finished trial in `search.jsonl`, and a resumed search hands those points
and their scores to a fresh `OptunaSearch` before asking for the remaining trials.
"""

import contextlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from gmrl.core.errors import GmrlError
from gmrl.core.imports import first_line
from gmrl.core.raysession import (  # noqa: F401 - the sweep CLI and tests import them here
    Resources,
    check_fits,
    check_reachable,
    ray_session,
)
from gmrl.sweep.grid import point_of
from gmrl.sweep.spec import TRIALS, SweepSpec, trial_name
from gmrl.sweep.trial import POINT_KEY, read_summary, search_key, trainable

RAY_MISSING = "gmrl sweep needs Ray: pip install 'gmrl[sweep]'"
OPTUNA_MISSING = "gmrl sweep --search optuna needs Optuna: pip install 'gmrl[sweep]'"
LEDGER = "search.jsonl"


@dataclass
class Outcome:
    """What a launch left: trials now finished, failed (name -> one line) and not run."""

    finished: int
    failed: dict[str, str] = field(default_factory=dict)
    unfinished: int = 0


def require_ray(search: str) -> None:
    """Refuse in one line when Ray Tune (or, for a search, Optuna) is not installed."""
    try:
        import ray
        import ray.tune  # noqa: F401
    except ImportError:
        raise GmrlError(RAY_MISSING) from None
    if search == "optuna":
        try:
            import optuna  # noqa: F401
        except ImportError:
            raise GmrlError(OPTUNA_MISSING) from None


def pending_trials(sweep_dir: Path, spec: SweepSpec) -> list[str]:
    """Grid trials whose run directory has no summary.json yet."""
    return [
        trial_name(point, seed)
        for point in spec.points()
        for seed in range(spec.seeds)
        if read_summary(sweep_dir / TRIALS / trial_name(point, seed)) is None
    ]


def work_left(sweep_dir: Path, spec: SweepSpec) -> int:
    """Trials still to run: unfinished grid trials, or search trials not yet recorded."""
    if spec.search == "grid":
        return len(pending_trials(sweep_dir, spec))
    return max(0, spec.trials - len(read_ledger(sweep_dir)))


def read_ledger(sweep_dir: Path) -> list[dict[str, Any]]:
    """The search trials finished so far: `{"config": {g0: raw...}, "score": float}` each."""
    file = sweep_dir / LEDGER
    if not file.is_file():
        return []
    entries = []
    for line in file.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(json.JSONDecodeError):  # a line torn by a kill
            entry = json.loads(line)
            if isinstance(entry, dict) and isinstance(entry.get("config"), dict):
                entries.append(entry)
    return entries


def _ledger_callback(sweep_dir: Path, metric: str) -> Any:
    """A Tune callback (on the driver) appending each finished search trial to the ledger."""
    from ray import tune

    class Ledger(tune.Callback):
        def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any,
                              **info: Any) -> None:
            result = trial.last_result or {}
            if metric not in result:
                return
            entry = {"config": {k: v for k, v in trial.config.items() if k.startswith("g")},
                     "point": result.get(POINT_KEY), "score": float(result[metric])}
            with (sweep_dir / LEDGER).open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry) + "\n")

    return Ledger()


def _failure(result: Any) -> str:
    """One line for a failed Tune trial: the trial's own exception, not Ray's traceback."""
    error = result.error
    cause = getattr(error, "cause", None) or error
    return first_line(cause)


def launch(sweep_dir: Path, spec: SweepSpec, resources: Resources) -> Outcome:
    """Run the sweep's unfinished trials on Ray Tune; inside `ray_session`."""
    from ray import tune

    sweep_dir = sweep_dir.resolve()
    function = tune.with_parameters(
        trainable, sweep_dir=str(sweep_dir), spec_data=spec.model_dump(mode="json")
    )
    function = tune.with_resources(
        function, {"cpu": resources.cpus_per_trial, "gpu": resources.gpus_per_trial}
    )
    callbacks: list[Any] = []
    if spec.search == "grid":
        names = pending_trials(sweep_dir, spec)
        if not names:
            return Outcome(finished=spec.seeds * len(spec.points()))
        space: dict[str, Any] = {"trial": tune.grid_search(names)}
        tune_config = tune.TuneConfig(max_concurrent_trials=resources.max_concurrent)
    else:
        assert spec.metric is not None and spec.mode is not None  # the CLI requires both
        ledger = read_ledger(sweep_dir)
        remaining = spec.trials - len(ledger)
        if remaining <= 0:
            return Outcome(finished=len(ledger))
        import optuna
        from ray.tune.search.optuna import OptunaSearch

        optuna.logging.set_verbosity(optuna.logging.WARNING)

        space = {search_key(i): tune.choice(values) for i, values in enumerate(spec.grid.values())}
        searcher = OptunaSearch(
            points_to_evaluate=[entry["config"] for entry in ledger] or None,
            evaluated_rewards=[entry["score"] for entry in ledger] or None,
            seed=len(ledger),  # a resumed search must not replay the first one's draws
        )
        tune_config = tune.TuneConfig(
            search_alg=searcher, metric=spec.metric, mode=spec.mode, num_samples=remaining,
            max_concurrent_trials=resources.max_concurrent,
        )
        callbacks.append(_ledger_callback(sweep_dir, spec.metric))
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    run_config = tune.RunConfig(
        name=f"launch-{stamp}", storage_path=str(sweep_dir / "tune"), verbose=0,
        callbacks=callbacks,
    )
    quiet = [logging.getLogger(name) for name in ("ray.tune", "ray.train")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:  # trial errors come back as one line each, not as tracebacks
        logger.setLevel(logging.CRITICAL)
    try:
        results = tune.Tuner(
            function, param_space=space, tune_config=tune_config, run_config=run_config
        ).fit()
    finally:
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)
    failed: dict[str, str] = {}
    for index in range(len(results)):
        result = results[index]
        if result.error is not None:
            config = result.config or {}
            if spec.search == "grid":
                name = str(config.get("trial"))
            else:
                chosen = {key: str(config.get(search_key(i))) for i, key in enumerate(spec.grid)}
                name = point_of(spec.grid, chosen).label
            failed[name] = _failure(result)
    if spec.search == "grid":
        left = pending_trials(sweep_dir, spec)
        finished = spec.seeds * len(spec.points()) - len(left)
        return Outcome(finished, failed, len([n for n in left if n not in failed]))
    done = len(read_ledger(sweep_dir))
    return Outcome(done, failed, max(0, spec.trials - done - len(failed)))
