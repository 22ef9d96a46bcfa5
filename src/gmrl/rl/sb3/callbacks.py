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

`on_step(num_timesteps)` is an optional hook run after every env step (the recipe uses it for
periodic evaluation and checkpoints); returning False from it stops training.
"""

from collections.abc import Callable
from typing import Any

import numpy as np
from rich.progress import Progress, TaskID
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import KVWriter

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
    ) -> None:
        super().__init__(verbose=0)
        self.run, self.progress, self.task, self.step_hook = run, progress, task, on_step
        self.episode_steps: list[int] = []
        self.episode_returns: list[float] = []
        self._writer = _RunDirWriter(run)

    def _on_training_start(self) -> None:
        formats = self.model.logger.output_formats
        if not any(isinstance(f, _RunDirWriter) for f in formats):
            formats.append(self._writer)

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", ()):
            episode = info.get("episode")
            if episode is not None:
                self.episode_steps.append(self.num_timesteps)
                self.episode_returns.append(float(episode["r"]))
                self.run.log(self.num_timesteps, {
                    "charts/episodic_return": float(episode["r"]),
                    "charts/episodic_length": float(episode["l"]),
                })
                if self.progress is not None and self.task is not None:
                    self.progress.update(self.task, info=f"return {float(episode['r']):.1f}")
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, completed=self.num_timesteps)
        return self.step_hook is None or self.step_hook(self.num_timesteps) is not False
