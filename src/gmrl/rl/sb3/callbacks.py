"""An SB3 callback that reports into a gmrl run directory and a rich progress bar.

```python
with run.progress() as progress:
    task = progress.add_task("ppo", total=budget, info="")
    model.learn(budget, callback=RunDirCallback(run, progress=progress, task=task))
```

What lands in `run.log` (metrics.csv + TensorBoard), all against env steps (`num_timesteps`):

- every value SB3's logger dumps (`rollout/ep_rew_mean`, `train/value_loss`, `train/loss`,
  `time/fps`, ...), captured by a logger output format added at the start of training, so the
  names are SB3's own; `time/*` keys are wall-clock and go to TensorBoard only;
- each finished episode's return and length (`charts/episodic_return`,
  `charts/episodic_length`), read from the `Monitor` info SB3 passes to callbacks.

Hooks, all optional: `on_step(num_timesteps)` after every env step (returning False stops
training; the recipe evaluates there), `on_episode(num_timesteps, episode_return)`, and
`on_rollout_start(num_timesteps)` where the agent's state is complete (the recipe checkpoints
and honours Ctrl-C there). `learn(model, steps)` continues training on one global logging
schedule, and `resume_state` (from `gmrl.rl.sb3.state.sb3_state`) restores what SB3's `learn`
resets on entry, so a resumed run logs exactly what an uninterrupted one does.
"""

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
from rich.progress import Progress, TaskID
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import KVWriter
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from gmrl.core.rundir import RunDir


class _RunDirWriter(KVWriter):
    """SB3 logger output that forwards numeric values to `RunDir.log`."""

    def __init__(self, run: RunDir) -> None:
        self.run = run

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, tuple[str, ...]],
              step: int = 0) -> None:
        scalars = {
            key: float(value) for key, value in key_values.items()
            if isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, bool)
        }
        if scalars:
            self.run.log(int(step), scalars)

    def close(self) -> None:
        self.run.flush()


class RunDirCallback(BaseCallback):
    """Send SB3's logger values and episode returns to a RunDir; advance a progress bar."""

    def __init__(
        self, run: RunDir, *, progress: Progress | None = None, task: TaskID | None = None,
        on_step: Callable[[int], bool | None] | None = None,
        on_episode: Callable[[int, float], None] | None = None,
        on_rollout_start: Callable[[int], None] | None = None,
        progress_hook: Callable[[int, str | None], None] | None = None,
        resume_state: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(verbose=0)
        self.run, self.progress, self.task, self.step_hook = run, progress, task, on_step
        self.episode_hook, self.rollout_hook = on_episode, on_rollout_start
        self.progress_hook, self.resume_state = progress_hook, resume_state
        self.episode_steps: list[int] = []
        self.episode_returns: list[float] = []
        self.dump_every: int | None = None  # on-policy log dumps, set by `learn`
        self._writer = _RunDirWriter(run)

    # ---------------------------------------------------------------------------- learning
    def learn(self, model: BaseAlgorithm, steps: int) -> BaseAlgorithm:
        """`model.learn(steps)` continuing its counters, with SB3's logging schedule made global.

        SB3's on-policy `learn` counts logging iterations from each call's start, so a resumed
        run would dump on another schedule; here dumps follow the global rollout count instead.
        """
        if isinstance(model, OnPolicyAlgorithm):
            default = inspect.signature(type(model).learn).parameters["log_interval"].default
            self.dump_every = int(default)
            return model.learn(steps, callback=self, log_interval=None,  # type: ignore[arg-type]
                               reset_num_timesteps=False)
        return model.learn(steps, callback=self, reset_num_timesteps=False)

    # ---------------------------------------------------------------------------- SB3 events
    def _on_training_start(self) -> None:
        formats = self.model.logger.output_formats
        if not any(isinstance(f, _RunDirWriter) for f in formats):
            formats.append(self._writer)
        if self.resume_state is not None:
            from gmrl.rl.sb3.state import restore_learn_state

            restore_learn_state(self.model, self.resume_state)
            self.resume_state = None

    def _on_rollout_start(self) -> None:
        if self.rollout_hook is not None:
            self.rollout_hook(self.num_timesteps)

    def _on_rollout_end(self) -> None:
        model = self.model
        if self.dump_every is not None and isinstance(model, OnPolicyAlgorithm):
            iteration = model.num_timesteps // (model.n_steps * model.n_envs)
            if iteration % self.dump_every == 0:
                model.dump_logs(iteration)

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", ()):
            episode = info.get("episode")
            if episode is not None:
                self.episode_steps.append(self.num_timesteps)
                self.episode_returns.append(float(episode["r"]))
                if self.episode_hook is not None:
                    self.episode_hook(self.num_timesteps, float(episode["r"]))
                self.run.log(self.num_timesteps, {
                    "charts/episodic_return": float(episode["r"]),
                    "charts/episodic_length": float(episode["l"]),
                })
                self._show(info=f"return {float(episode['r']):.1f}")
        self._show()
        return self.step_hook is None or self.step_hook(self.num_timesteps) is not False

    def _show(self, info: str | None = None) -> None:
        if self.progress is not None and self.task is not None:
            fields: dict[str, Any] = {} if info is None else {"info": info}
            self.progress.update(self.task, completed=self.num_timesteps, **fields)
        if self.progress_hook is not None:
            self.progress_hook(self.num_timesteps, info)
