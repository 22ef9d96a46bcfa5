"""`SyntheticReplayBuffer`: a Stable-Baselines3 replay buffer whose minibatches mix in generated
transitions (SynthER-style synthetic experience, combination 1 of gmrl).

```python
from stable_baselines3 import SAC
from gmrl.synthetic import SyntheticReplayBuffer

model = SAC("MlpPolicy", "Pendulum-v1", gradient_steps=10,          # update-to-data ratio 10
            replay_buffer_class=SyntheticReplayBuffer,
            replay_buffer_kwargs={"ratio": 0.5, "refit_every": 500})
model.learn(5_000)
```

Real transitions are stored exactly as in SB3's `ReplayBuffer` (this class *is* one) and are
never written by the generator: generated transitions live in a separate pool, regenerated after
every refit; their `terminated` flags come from a classifier fitted to the real transitions
(`terminal="classifier"`, see `gmrl.synthetic.termination`), since the generator's own flag
column is unreliable where terminations are rare. Every `refit_every` real steps (once
`min_real` transitions exist) the transition generator (`TransitionGenerator`, a diffusion model
by default) is refit, warm-started, on all real transitions; `sample(batch_size)` then
returns `round(ratio * batch_size)` synthetic rows and the rest real, drawn with NumPy's global
generator as SB3's own buffer does. Before the first fit, and with `ratio=0`, every row is real
(and the generator is never trained: `ratio=0` is the
update-to-data-matched ablation without synthetic data).

The keyword arguments are `gmrl.synthetic.config.SyntheticConfig` (validated: a misspelt key is
a one-line error). After each refit `pop_metrics()` returns the generator's loss, its refit time
and the fidelity of its samples (MMD; a classifier's real-vs-synthetic accuracy, 0.5 = cannot
tell), which gmrl's recipes log. `extra_state()` / `load_extra_state()` carry the generator, its
optimizer, RNG and pool into gmrl checkpoints (`gmrl.rl.sb3.state`), so a resumed run is exact.
"""

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.type_aliases import ReplayBufferSamples
from stable_baselines3.common.vec_env import VecNormalize

from gmrl.core.config import validate_config
from gmrl.core.errors import ConfigError
from gmrl.synthetic.config import SyntheticConfig
from gmrl.synthetic.fidelity import fidelity
from gmrl.synthetic.generator import TransitionGenerator
from gmrl.synthetic.layout import TransitionLayout, Transitions
from gmrl.synthetic.termination import TerminationLabeller

_POOL_FIELDS = ("observations", "actions", "rewards", "next_observations", "terminated")


class SyntheticReplayBuffer(ReplayBuffer):
    """SB3 `ReplayBuffer` + a transition generator whose samples fill part of each batch."""

    def __init__(
        self,
        buffer_size: int,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        device: torch.device | str = "auto",
        n_envs: int = 1,
        optimize_memory_usage: bool = False,
        handle_timeout_termination: bool = True,
        **synthetic: Any,
    ) -> None:
        if optimize_memory_usage:
            raise ConfigError(
                "SyntheticReplayBuffer does not support optimize_memory_usage=True: drop it"
            )
        self.synthetic = validate_config(SyntheticConfig, synthetic, "replay_buffer_kwargs")
        super().__init__(
            buffer_size, observation_space, action_space, device, n_envs,
            optimize_memory_usage=False, handle_timeout_termination=handle_timeout_termination,
        )  # fmt: skip
        bounds = (-1.0, 1.0) if isinstance(action_space, spaces.Box) else None
        self.layout = TransitionLayout(observation_space, action_space, action_bounds=bounds)
        self.generator = TransitionGenerator(
            self.layout, self.synthetic.generator, seed=self.synthetic.seed, device=self.device
        )
        self.labeller = TerminationLabeller(self.layout, seed=self.synthetic.seed + 1)
        self.pool: Transitions | None = None
        self.since_refit = 0
        self._metrics: dict[str, float] = {}
        self._last_refit: dict[str, float] = {}

    @classmethod
    def check_settings(cls, synthetic: dict[str, Any], observation_space: spaces.Space,
                       action_space: spaces.Space) -> None:
        """The one-line `ConfigError` that building this buffer would raise for these
        `replay_buffer_kwargs` and spaces, raised before anything is built
        (`gmrl.rl.sb3.factory` calls it for a buffer named in a config)."""
        validate_config(SyntheticConfig, synthetic, "replay_buffer_kwargs")
        TransitionLayout(observation_space, action_space)

    # ------------------------------------------------------------------ real data
    def real_size(self) -> int:
        """Real transitions stored (all envs)."""
        return (self.buffer_size if self.full else self.pos) * self.n_envs

    def real_transitions(self) -> Transitions:
        """Copies of every stored real transition, flattened over envs."""
        filled = self.buffer_size if self.full else self.pos
        dim = self.layout.obs_dim

        def flat(array: np.ndarray, width: int) -> np.ndarray:
            return np.asarray(array[:filled], dtype=np.float32).reshape(filled * self.n_envs, width)

        terminated = self.dones[:filled] * (1 - self.timeouts[:filled])
        return Transitions(
            observations=flat(self.observations, dim),
            actions=flat(self.actions, self.action_dim),
            rewards=flat(self.rewards, 1).reshape(-1),
            next_observations=flat(self.next_observations, dim),
            terminated=flat(terminated, 1).reshape(-1),
        )

    def add(self, *args: Any, **kwargs: Any) -> None:
        """Store a real step (SB3's `add`), then refit the generator when one is due."""
        super().add(*args, **kwargs)
        self.since_refit += self.n_envs
        if self.refit_due():
            self.refit()

    def refit_due(self) -> bool:
        if self.synthetic.ratio == 0 or self.real_size() < self.synthetic.min_real:
            return False
        return not self.generator.fitted or self.since_refit >= self.synthetic.refit_every

    # ------------------------------------------------------------------ synthetic data
    def refit(self) -> dict[str, float]:
        """Refit the generator on all real data and regenerate the pool; returns its metrics."""
        real_rows = self.layout.encode(self.real_transitions())
        fit = self.generator.refit(real_rows)
        pool, report = self.generator.generate(self.synthetic.pool_size)
        labelling: dict[str, float] = {}
        if self.synthetic.terminal == "classifier" and len(pool):
            generated_flags = pool.terminated.copy()
            labelling = self.labeller.fit(real_rows)
            pool = self.labeller.relabel(pool)
            labelling["relabelled_fraction"] = float((pool.terminated != generated_flags).mean())
        self.pool = pool if len(pool) else None
        self.since_refit = 0
        metrics = {
            "synthetic/refits": float(self.generator.refits),
            "synthetic/generator_loss": fit["loss"],
            "synthetic/real_transitions": float(len(real_rows)),
            "synthetic/pool_size": float(len(pool)),
            "synthetic/out_of_bounds_fraction": report.out_of_bounds_fraction,
            "synthetic/nonfinite_rows": float(report.dropped_nonfinite),
            "time/synthetic_refit_seconds": fit["seconds"],
            **{f"synthetic/{key}": value for key, value in labelling.items()},
        }
        n = self.synthetic.fidelity_samples
        if n and len(pool):
            scores = fidelity(real_rows[-n:], self.layout.encode(pool)[:n],
                              seed=self.synthetic.seed + self.generator.refits)
            metrics.update({f"synthetic/{key}": value for key, value in scores.items()})
        self._metrics = metrics
        self._last_refit = dict(metrics)
        return metrics

    def summary(self) -> dict[str, float]:
        """Figures for a run's summary: refits, the last fidelity scores, generator seconds."""
        last = self._last_refit
        return {
            "synthetic_refits": float(self.generator.refits),
            "synthetic_mmd": last.get("synthetic/mmd", float("nan")),
            "synthetic_classifier_accuracy": last.get("synthetic/classifier_accuracy",
                                                      float("nan")),
            "synthetic_out_of_bounds_fraction": last.get("synthetic/out_of_bounds_fraction",
                                                         float("nan")),
            "time/generator_seconds": self.generator.fit_seconds,
        }

    def pop_metrics(self) -> dict[str, float]:
        """The last refit's metrics, once (empty until the next refit)."""
        metrics, self._metrics = self._metrics, {}
        return metrics

    def synthetic_count(self, batch_size: int) -> int:
        """How many rows of a batch of `batch_size` are synthetic right now."""
        if self.pool is None:
            return 0
        return min(round(self.synthetic.ratio * batch_size), batch_size)

    def sample(self, batch_size: int, env: VecNormalize | None = None) -> ReplayBufferSamples:
        """`batch_size` transitions: `synthetic_count` from the pool, the rest real."""
        n_synthetic = self.synthetic_count(batch_size)
        real = super().sample(batch_size - n_synthetic, env=env)
        if n_synthetic == 0 or self.pool is None:
            return real
        index = np.random.randint(0, len(self.pool), size=n_synthetic)
        pool = self.pool
        made = (
            self._normalize_obs(pool.observations[index], env),
            pool.actions[index],
            self._normalize_obs(pool.next_observations[index], env),
            pool.terminated[index].reshape(-1, 1),
            self._normalize_reward(pool.rewards[index].reshape(-1, 1), env),
        )
        synthetic = [self.to_torch(np.asarray(part, dtype=np.float32)) for part in made]
        parts = zip(real[:5], synthetic, strict=True)
        return ReplayBufferSamples(*[torch.cat([r.to(s.dtype), s]) for r, s in parts])

    # ------------------------------------------------------------------ checkpoints
    def extra_state(self) -> dict[str, Any]:
        """Everything beyond SB3's arrays: the generator (weights, optimizer, RNG) and pool."""
        pool = None
        if self.pool is not None:
            pool = {name: torch.from_numpy(getattr(self.pool, name).copy())
                    for name in _POOL_FIELDS}
        return {"generator": self.generator.state_dict(), "pool": pool,
                "since_refit": self.since_refit, "last_refit": dict(self._last_refit),
                "pending_metrics": dict(self._metrics),
                "labeller_rng": self.labeller.generator.get_state()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        pool = state["pool"]
        self.pool = None if pool is None else Transitions(
            **{name: pool[name].numpy().copy() for name in _POOL_FIELDS}
        )
        self.since_refit = int(state["since_refit"])
        self._last_refit = {key: float(value) for key, value in state["last_refit"].items()}
        self._metrics = {key: float(value) for key, value in state["pending_metrics"].items()}
        self.labeller.generator.set_state(state["labeller_rng"])
