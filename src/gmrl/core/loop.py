"""The one training loop helper: log, evaluate, checkpoint and stop on a schedule.

Every recipe (and the reward tuner) wraps its training steps in a `TrainingLoop`, in the spirit
of Stable-Baselines3's `EvalCallback` + `CheckpointCallback`: the recipe says *what* a step, an
evaluation and its state are; the loop does the bookkeeping around them, written once:

```python
loop = TrainingLoop(run, total=config.epochs, description="flow on two_moons",
                    state=lambda: {"model": model.training_state()},
                    restore=lambda s: model.load_training_state(s["model"]),
                    eval_every=config.eval_every)
start = loop.resume()                      # 0, or the step of the last checkpoint
with loop:                                 # progress bar
    for epoch in range(start + 1, config.epochs + 1):
        metrics = train_one_epoch()
        if loop.eval_due(epoch):
            metrics.update(evaluate())
        loop.end_step(epoch, metrics)      # log; checkpoint when due; Ctrl-C -> save + stop
```

What the loop guarantees:

- **Exact resume.** A checkpoint holds the recipe's `state()` plus every global RNG, so a run
  stopped at any checkpoint and resumed writes the same `metrics.csv` and `summary.json` as an
  uninterrupted one (provided `state()` holds everything the recipe's future depends on).
- **Ctrl-C is honoured at the next step boundary**, not the next evaluation: the run directory's
  interrupt guard acknowledges the key press at once; `end_step` then checkpoints and raises
  `RunInterrupted`, which the CLI turns into a "resume with ..." line and exit code 130.
- **An env failing mid-run loses nothing learned.** An `EnvStepError` (a user's env that
  raised or returned NaN, see `gmrl.rl.guard`) leaving the `with loop:` block is preceded by a
  checkpoint of the state so far (at the step a recipe's `on_env_error` hook names, by default
  the last step the loop saw), so the run can continue with `--resume` once the env is fixed.
- **One schedule.** Checkpoints fall on evaluation steps by default (`checkpoint_every` overrides),
  and always on the final step.
"""

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from rich.progress import Progress, TaskID

from gmrl.core.checkpoint import restore_or_explain
from gmrl.core.errors import EnvStepError, RunInterrupted
from gmrl.core.progress import plain_status
from gmrl.core.rundir import RunDir
from gmrl.core.seeding import rng_state, set_rng_state

StateFn = Callable[[], dict[str, Any]]
RestoreFn = Callable[[dict[str, Any]], None]

_RNG_KEY = "__rng__"


def is_due(step: int, every: int | None, total: int | None = None) -> bool:
    """True on multiples of `every` and on the final step `total` (never when `every` is None)."""
    if total is not None and step >= total:
        return True
    return every is not None and every > 0 and step % every == 0


class TrainingLoop:
    """Bookkeeping around a recipe's steps: progress, metrics, checkpoints, Ctrl-C, resume.

    Args:
        run: the run directory to write into.
        total: the step count at which training ends (epochs, env steps, rounds...).
        description: the progress bar's label.
        state: returns everything needed to continue (model, optimizer, buffers, counters);
            nested dicts/lists of tensors and JSON scalars (see `gmrl.core.checkpoint`).
        restore: the inverse of `state`, called by `resume()` with a loaded checkpoint.
        eval_every: steps between evaluations (`eval_due`); None for no periodic evaluation.
        checkpoint_every: steps between checkpoints; defaults to `eval_every`.
        metadata: extra JSON values written into each checkpoint's header (e.g. the algorithm).
        on_env_error: called when an env fails mid-run, before the checkpoint of what was
            learned; returns the step to save it at (a recipe whose state is only consistent at
            some points, e.g. an on-policy rollout's start, rewinds to one). Default: the last
            step logged or ended.
    """

    def __init__(
        self,
        run: RunDir,
        *,
        total: int,
        description: str,
        state: StateFn,
        restore: RestoreFn | None = None,
        eval_every: int | None = None,
        checkpoint_every: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        on_env_error: Callable[[], int] | None = None,
    ) -> None:
        self.run = run
        self.total = int(total)
        self.description = description
        self._state = state
        self._restore = restore
        self.eval_every = eval_every
        self.checkpoint_every = checkpoint_every if checkpoint_every is not None else eval_every
        self.metadata = dict(metadata or {})
        self.on_env_error = on_env_error
        self.start = 0
        self.reached = 0  # the last step logged or ended: where an env failure saves by default
        self.last_checkpoint: int | None = None
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    # ---------------------------------------------------------------------------- resume
    def resume(self) -> int:
        """Restore the last checkpoint (state and RNG) if there is one; return its step (or 0).

        A state that does not fit (another architecture) is one `CheckpointError` line and
        leaves the run directory untouched; once it fits, metrics rows after the checkpoint are
        dropped and a resume's overrides are written into config.yaml (`RunDir.commit_config`).
        """
        loaded = self.run.load_latest_checkpoint(truncate=False)
        if loaded is None:
            self.start = 0
            self.run.truncate_metrics(-1)  # a crash before the first checkpoint: start afresh
            self.run.commit_config()
            return 0
        step, state = loaded
        rng = state.pop(_RNG_KEY, None)
        if self._restore is not None:
            restore = self._restore
            source = self.run.checkpoints_dir
            restore_or_explain(source, f"this run's {self.description}", lambda: restore(state))
        if rng is not None:
            set_rng_state(rng)
        # only now that the state fits: drop rows logged after the checkpoint, record overrides
        self.run.truncate_metrics(step)
        self.run.commit_config()
        self.start = self.last_checkpoint = self.reached = step
        return step

    # ---------------------------------------------------------------------------- progress
    def __enter__(self) -> "TrainingLoop":
        self._progress = self.run.progress()
        self._progress.__enter__()
        self._task = self._progress.add_task(
            self.description, total=self.total, completed=self.start, info=""
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.__exit__(exc_type, exc, traceback)
        self._progress = self._task = None
        if isinstance(exc, EnvStepError) and exc.checkpoint_step is None:
            self._save_after_env_error(exc)

    def _save_after_env_error(self, error: EnvStepError) -> None:
        """Checkpoint what was learned before `error` ends the run (its `checkpoint_step`).

        A failure to save (the disk, or a state the fault left unusable) keeps the previous
        checkpoint: it is not allowed to hide the env's own error.
        """
        try:
            step = self.on_env_error() if self.on_env_error is not None else self.reached
            self.save(step)
        except Exception:  # the env's error is the one to report
            error.checkpoint_step = self.last_checkpoint
            return
        error.checkpoint_step = step

    def update_progress(self, completed: int, info: str | None = None) -> None:
        """Move the bar (also usable between `end_step` calls, e.g. from an SB3 callback)."""
        if self._progress is not None and self._task is not None:
            fields: dict[str, Any] = {} if info is None else {"info": info}
            self._progress.update(self._task, completed=min(completed, self.total), **fields)

    # ---------------------------------------------------------------------------- schedule
    @property
    def stop_requested(self) -> bool:
        """True once the user pressed Ctrl-C (the run directory's interrupt guard)."""
        return self.run.stop_requested

    def eval_due(self, step: int) -> bool:
        """Whether `step` is an evaluation step (multiples of `eval_every`, and the last one)."""
        return is_due(step, self.eval_every, self.total)

    def checkpoint_due(self, step: int) -> bool:
        """Whether `step` is a checkpoint step (multiples of `checkpoint_every`, and the last)."""
        return is_due(step, self.checkpoint_every, self.total)

    # ---------------------------------------------------------------------------- step end
    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        """Record metrics without ending a step (e.g. per-episode returns inside a step)."""
        if metrics:
            self.run.log(step, dict(metrics))
            self.reached = max(self.reached, step)

    def end_step(
        self,
        step: int,
        metrics: Mapping[str, float] | None = None,
        *,
        info: str | None = None,
        checkpoint: bool | None = None,
    ) -> None:
        """Finish `step`: log `metrics`, move the bar, checkpoint when due, honour Ctrl-C.

        `checkpoint` forces (True) or suppresses (False) the checkpoint; by default it follows
        `checkpoint_every`. A pending Ctrl-C always checkpoints, then raises `RunInterrupted`.
        """
        if metrics:
            self.run.log(step, dict(metrics))
        self.reached = max(self.reached, step)
        self.update_progress(step, info)
        if checkpoint is None:
            checkpoint = self.checkpoint_due(step)
        if checkpoint or self.stop_requested:
            self.save(step)
            plain_status(f"{self.description}: step {step}/{self.total}", self.run.quiet)
        if self.stop_requested:
            raise RunInterrupted(step)

    def save(self, step: int) -> None:
        """Write a checkpoint of `state()` and every RNG for `step` (atomic)."""
        state = dict(self._state())
        state[_RNG_KEY] = rng_state()
        self.run.save_checkpoint(step, state, **self.metadata)
        self.last_checkpoint = step

    def check_stop(self, step: int) -> None:
        """Inside a long step: checkpoint and stop now if Ctrl-C was pressed.

        Call it only where `state()` describes the run as of `step` (e.g. between the parts of a
        step that each end in a consistent state), or the resumed run will differ.
        """
        if self.stop_requested:
            self.save(step)
            raise RunInterrupted(step)
