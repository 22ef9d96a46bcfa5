"""Run one benchmark cell and measure it: an agent cell through the public agent API, or a
function cell through its benchmark's function.

A cell builds its agent with `gmrl.make_agent` (or the spec's `make` function), calls
`agent.learn(budget, callback)` once, and in the callback evaluates the agent with
`gmrl.rl.rollout.evaluate_agent` at each checkpoint of the grid's `Evaluation`; returning False
stops `learn` once the threshold is reached (plus `after_threshold` evaluations). Nothing else
of the agent is touched, so a benchmark measures exactly what a user's `learn` does.

Seeds: the cell's seed is the agent's seed, as `gmrl run seed=N`; the evaluation episodes'
reset seeds are spawned from `derive_seed(seed, "eval_env")` (as the rl recipe's), the same at
every checkpoint, so agents of one seed face the same start states. The global generators are
seeded with the cell's seed before the agent is built (`seed_everything`, as `gmrl run` does), so
a cell gives the same record whatever cells its worker process ran before.

Timing: `train_seconds` / `cpu_seconds` are wall-clock / process time inside `learn` less the
evaluations; `ms_per_step` is `train_seconds` per real env step (acting and updating);
`seconds_to_threshold` is the training wall-clock up to the evaluation that reached it.

Agent extras, recorded where the agent offers them (no agent is special-cased): its `algo`
name; its `timings` mapping at the end (as `timings`, and `per_step_ms[X]` = 1000 * `X_s` /
`X_steps` for every such pair, e.g. the v2 agent's acting and update costs); and its
`model_metrics()` at every evaluation (as `model`, one mapping per evaluation with its `step`).

Function cells (`run_function_cell`): the cell seeds Python, NumPy and torch with
`gmrl.core.seeding.seed_everything(seed)`, as a run does, then calls its grid's function with
the variant's settings and the seed (the function derives its per-purpose streams, e.g. train
and test data, with `derive_seed` / `torch_generator`), and records the metrics it returns with
its wall-clock and process time and the machine.
"""

import math
import os
import time
from datetime import datetime, timezone
from typing import Any

import numpy as np

from gmrl.bench.grid import Cell, FunctionCell
from gmrl.bench.machine import machine
from gmrl.core.seeding import derive_seed, seed_everything


class _Clock:
    """Training time with the evaluations taken out (wall-clock and process time)."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        self.eval_wall = self.eval_cpu = 0.0

    def train(self) -> tuple[float, float]:
        return (time.perf_counter() - self.wall - self.eval_wall,
                time.process_time() - self.cpu - self.eval_cpu)


def _build(cell: Cell, env: Any) -> Any:
    """The cell's agent: `gmrl.make_agent({**config, seed})`, or the spec's own function."""
    if cell.agent.make:
        from gmrl.core.imports import import_object

        make = import_object(cell.agent.make, f"agent '{cell.agent.name}' make")
        return make(env, seed=cell.seed, **dict(cell.agent.config))
    import gmrl

    return gmrl.make_agent({**dict(cell.agent.config), "seed": cell.seed}, env)


def _numbers(values: Any) -> dict[str, float]:
    """The numeric entries of a mapping, as floats (JSON values)."""
    if not isinstance(values, dict):
        return {}
    return {str(k): float(v) for k, v in values.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


def agent_extras(agent: Any) -> dict[str, Any]:
    """The agent's `algo` name where it has one (an SB3 agent's), and `timings` and
    `per_step_ms` where it keeps a `timings` mapping."""
    algo = getattr(agent, "algo", None)
    extras: dict[str, Any] = {"algo": algo} if isinstance(algo, str) else {}
    timings = _numbers(getattr(agent, "timings", None))
    if timings:
        extras["timings"] = timings
        extras["per_step_ms"] = {key[:-2]: 1000.0 * value / timings[f"{key[:-2]}_steps"]
                                 for key, value in timings.items()
                                 if key.endswith("_s") and timings.get(f"{key[:-2]}_steps")}
    return extras


def model_metrics(agent: Any) -> dict[str, float] | None:
    """The agent's `model_metrics()` where it has one (None otherwise)."""
    method = getattr(agent, "model_metrics", None)
    return _numbers(method()) if callable(method) else None


def run_cell(cell: Cell) -> dict[str, Any]:
    """Train and evaluate one cell; its record (JSON values) for the results file."""
    import torch

    from gmrl.rl.envs import make_env
    from gmrl.rl.rollout import evaluate_agent

    task, evaluation = cell.task, cell.evaluation
    threads = torch.get_num_threads()
    torch.set_num_threads(cell.threads)
    # as a run does: an agent drawing on the global generators (SB3's, the v1 world model's)
    # gets the same draws whatever cells this worker process ran before
    seed_everything(cell.seed)
    env = make_env(task.env, **dict(task.env_kwargs))
    eval_seed = derive_seed(cell.seed, "eval_env")
    curve: list[list[float]] = []
    models: list[dict[str, float]] = []
    reached: dict[str, float] = {}
    held = HoldTracker(evaluation.after_threshold)
    next_eval = [evaluation.next_point(0)]
    clock = _Clock()

    def evaluate(agent: Any) -> None:
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        train_wall, _ = clock.train()
        returns = evaluate_agent(agent, lambda: make_env(task.env, check=False,
                                                         **dict(task.env_kwargs)),
                                 episodes=evaluation.episodes, seed=eval_seed,
                                 deterministic=evaluation.deterministic)
        steps, mean = int(agent.num_timesteps), float(np.mean(returns))
        curve.append([steps, mean, float(np.std(returns))])
        metrics = model_metrics(agent)
        if metrics is not None:
            models.append({"step": float(steps), **metrics})
        if task.threshold is not None and mean >= task.threshold and not reached:
            reached.update(steps=steps, seconds=train_wall, at=len(curve))
        if task.threshold is not None:
            held.add(steps, train_wall, mean, task.threshold)
        clock.eval_wall += time.perf_counter() - start_wall
        clock.eval_cpu += time.process_time() - start_cpu

    def callback(agent: Any) -> bool:
        steps = int(agent.num_timesteps)
        if next_eval[0] is None or steps < next_eval[0]:
            return True
        evaluate(agent)
        next_eval[0] = evaluation.next_point(steps)
        return not finished()

    def finished() -> bool:
        if evaluation.until_held:
            return held.held is not None
        return bool(reached) and len(curve) - int(reached["at"]) >= evaluation.after_threshold

    try:
        agent = _build(cell, env)
        agent.learn(cell.budget, callback=callback)
        train_seconds, cpu_seconds = clock.train()
        if not finished() and (not curve or curve[-1][0] != agent.num_timesteps):
            evaluate(agent)  # the budget ended between checkpoints: score where it stopped
        steps = int(agent.num_timesteps)
        extras = agent_extras(agent)
        close = getattr(agent, "close", None)
        if callable(close):
            close()
    finally:
        env.close()
        torch.set_num_threads(threads)
    returns = [point[1] for point in curve]
    return {
        "key": cell.key, "digest": cell.digest, "benchmark": cell.benchmark,
        "task": task.label, "env": task.env, "agent": cell.agent.name, "seed": cell.seed,
        "budget": cell.budget, "threshold": task.threshold, "steps": steps,
        "reached": bool(reached), "steps_to_threshold": reached.get("steps"),
        "seconds_to_threshold": reached.get("seconds"),
        **({"steps_to_held": held.held and held.held[0],
            "seconds_to_held": held.held and held.held[1]} if evaluation.until_held else {}),
        "train_seconds": train_seconds, "cpu_seconds": cpu_seconds,
        "eval_seconds": clock.eval_wall,
        "ms_per_step": 1000.0 * train_seconds / steps if steps else None,
        "final_return": returns[-1] if returns else None,
        "best_return": max(returns) if returns else None,
        "curve": curve, **extras, **({"model": models} if models else {}),
        "spec": cell.spec(), "machine": machine(), "pid": os.getpid(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


class HoldTracker:
    """Finds the first reach of a threshold that holds: the return at that evaluation meets the
    threshold and none of the `window` evaluations after it falls more than 20 % of the best
    return so far below that best (the suite's "fell back" rule, over a finite window).
    `held` is (steps, seconds) of that reach once its window has passed, else None."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.held: tuple[int, float] | None = None
        self._candidate: tuple[int, float] | None = None
        self._best = -math.inf
        self._since = 0

    def add(self, steps: int, seconds: float, mean: float, threshold: float) -> None:
        if self.held is not None:
            return
        if self._candidate is not None:
            self._best = max(self._best, mean)
            if mean < self._best - 0.2 * abs(self._best):
                self._candidate = None  # fell back: look for the next reach
            else:
                self._since += 1
        if self._candidate is None and mean >= threshold:
            self._candidate, self._best, self._since = (steps, seconds), mean, 0
        if self._candidate is not None and self._since >= self.window:
            self.held = self._candidate


def run_function_cell(cell: FunctionCell) -> dict[str, Any]:
    """Call one function cell's function; its record (JSON values) for the results file.

    The function must return a mapping (its metrics, JSON values); anything else is a
    `TypeError`, which the harness reports as the cell's failure."""
    import torch

    from gmrl.core.imports import import_object

    function = import_object(cell.function, f"benchmark '{cell.benchmark}' function")
    threads = torch.get_num_threads()
    torch.set_num_threads(cell.threads)
    try:
        seed_everything(cell.seed)
        wall, cpu = time.perf_counter(), time.process_time()
        metrics = function(dict(cell.variant.settings), cell.seed)
        wall_seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        torch.set_num_threads(threads)
    if not isinstance(metrics, dict):
        raise TypeError(f"{cell.function} returned {type(metrics).__name__}, not a dict of "
                        "metrics")
    return {
        "key": cell.key, "digest": cell.digest, "benchmark": cell.benchmark, "kind": "function",
        "variant": cell.variant.name, "seed": cell.seed, "metrics": metrics,
        "wall_seconds": wall_seconds, "cpu_seconds": cpu_seconds,
        "spec": cell.spec(), "machine": machine(), "pid": os.getpid(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
