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
by default) is refit, warm-started, on the real transitions except a held-out share
(`fidelity_holdout`, below); `sample(batch_size)` then returns `round(share * batch_size)`
synthetic rows and the rest real, drawn with NumPy's global generator as SB3's own buffer does.
Before the first fit, and with `ratio=0`, every row is real (and the generator is never
trained: `ratio=0` is the update-to-data-matched ablation without synthetic data).

**Held-out rows and the fidelity guard.** A fixed `fidelity_holdout` share (10 %) of the buffer's
slots, spread evenly over it by a golden-ratio sequence, is never given to the generator (nor to
the termination classifier); the agent still learns from them like any real transition. After
each refit the new pool is scored against the most recent `fidelity_samples` of those held-out
transitions, so the fidelity figures say how well the generator matches real data it was *not*
fitted on, including the states the current policy has just started to visit. The `guard`
(`gmrl.synthetic.guard`) then sets `share`, the synthetic fraction of every batch: cut (halved)
while the classifier tells the two apart too easily, raised step by step back to `ratio` when it
cannot. With `guard.enabled: false` the share is always `ratio`.

The keyword arguments are `gmrl.synthetic.config.SyntheticConfig` (validated: a misspelt key is
a one-line error). After each refit `pop_metrics()` returns the generator's loss, its refit time,
the fidelity of its samples (MMD; a classifier's real-vs-synthetic accuracy, 0.5 = cannot tell)
and the share now in force (`synthetic/share`), which gmrl's recipes log. `extra_state()` /
`load_extra_state()` carry the generator, its optimizer, RNG, pool and share into gmrl
checkpoints (`gmrl.rl.sb3.state`), so a resumed run is exact.
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
from gmrl.synthetic.guard import next_share
from gmrl.synthetic.layout import TransitionLayout, Transitions
from gmrl.synthetic.termination import TerminationLabeller

_POOL_FIELDS = ("observations", "actions", "rewards", "next_observations", "terminated")
_GOLDEN = (5**0.5 - 1) / 2  # slot i is held out when frac(i * _GOLDEN + offset) < holdout


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
        # which slots are held out is fixed for the run (a function of the seed), so a resumed
        # run holds out the same transitions and nothing about it needs saving
        self._holdout_offset = float(np.random.default_rng(self.synthetic.seed).random())
        self.share = self.synthetic.ratio  # synthetic fraction of a batch now (the guard's)
        self.guard_cuts = 0  # refits after which the guard lowered the share
        self.synthetic_rows_sampled = 0  # synthetic rows handed out by `sample` so far

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

    def held_out(self) -> np.ndarray:
        """Boolean mask over `real_transitions()`'s rows: those the generator is never fitted on.

        A slot (flat index position * n_envs + env) is held out when frac(index * 0.618... +
        offset) < `fidelity_holdout`: an even, non-periodic spread (a stride would line up with
        fixed episode lengths and hold out the same step of every episode). Where it would leave
        the generator fewer than two rows, nothing is held out.
        """
        rows = self.real_size()
        share = self.synthetic.fidelity_holdout
        mask = np.modf(np.arange(rows) * _GOLDEN + self._holdout_offset)[0] < share
        if rows - int(mask.sum()) < 2:
            mask[:] = False
        return mask

    def recency(self) -> np.ndarray:
        """`real_transitions()`'s row indices, most recently stored first (the ring wraps; the
        envs of one step in env order)."""
        filled = self.buffer_size if self.full else self.pos
        positions = (self.pos - 1 - np.arange(filled)) % self.buffer_size
        return (positions[:, None] * self.n_envs + np.arange(self.n_envs)).reshape(-1)

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
        """Refit the generator on the real data but the held-out rows, regenerate the pool,
        score it against the held-out rows and let the guard set the share; returns metrics."""
        all_rows = self.layout.encode(self.real_transitions())
        held = self.held_out()
        real_rows = all_rows[~held]
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
        scored = 0
        if n and len(pool):
            order = self.recency()
            # the most recent held-out rows; with no holdout, the most recent fitted ones
            reference = order[held[order]] if held.any() else order
            real_scored = all_rows[reference[:n]]
            scored = min(len(real_scored), len(pool))
            scores = fidelity(real_scored, self.layout.encode(pool)[:n],
                              seed=self.synthetic.seed + self.generator.refits)
            metrics.update({f"synthetic/{key}": value for key, value in scores.items()})
            metrics["synthetic/fidelity_rows"] = float(scored)
        accuracy = metrics.get("synthetic/classifier_accuracy", float("nan"))
        share = next_share(self.share, self.synthetic.ratio, accuracy, scored,
                           self.synthetic.guard)
        self.guard_cuts += int(share < self.share)
        self.share = share
        metrics["synthetic/share"] = share
        self._metrics = metrics
        self._last_refit = dict(metrics)
        return metrics

    def summary(self) -> dict[str, float]:
        """Figures for a run's summary: refits, the last fidelity scores, the share in force
        and how often the guard cut it, synthetic rows sampled, generator seconds."""
        last = self._last_refit
        return {
            "synthetic_refits": float(self.generator.refits),
            "synthetic_mmd": last.get("synthetic/mmd", float("nan")),
            "synthetic_classifier_accuracy": last.get("synthetic/classifier_accuracy",
                                                      float("nan")),
            "synthetic_out_of_bounds_fraction": last.get("synthetic/out_of_bounds_fraction",
                                                         float("nan")),
            "synthetic_share": self.share,
            "synthetic_guard_cuts": float(self.guard_cuts),
            "synthetic_rows_sampled": float(self.synthetic_rows_sampled),
            "time/generator_seconds": self.generator.fit_seconds,
        }

    def pop_metrics(self) -> dict[str, float]:
        """The last refit's metrics, once (empty until the next refit)."""
        metrics, self._metrics = self._metrics, {}
        return metrics

    def synthetic_count(self, batch_size: int) -> int:
        """How many rows of a batch of `batch_size` are synthetic right now: `round(share *
        batch_size)` once a pool exists (`share` is `ratio` unless the guard lowered it)."""
        if self.pool is None:
            return 0
        return min(round(self.share * batch_size), batch_size)

    def sample(self, batch_size: int, env: VecNormalize | None = None) -> ReplayBufferSamples:
        """`batch_size` transitions: `synthetic_count` from the pool, the rest real."""
        n_synthetic = self.synthetic_count(batch_size)
        real = super().sample(batch_size - n_synthetic, env=env)
        if n_synthetic == 0 or self.pool is None:
            return real
        self.synthetic_rows_sampled += n_synthetic
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
        """Everything beyond SB3's arrays: the generator (weights, optimizer, RNG), the pool,
        the guard's share and the counters."""
        pool = None
        if self.pool is not None:
            pool = {name: torch.from_numpy(getattr(self.pool, name).copy())
                    for name in _POOL_FIELDS}
        return {"generator": self.generator.state_dict(), "pool": pool,
                "since_refit": self.since_refit, "last_refit": dict(self._last_refit),
                "pending_metrics": dict(self._metrics),
                "labeller_rng": self.labeller.generator.get_state(),
                "share": self.share, "guard_cuts": self.guard_cuts,
                "synthetic_rows_sampled": self.synthetic_rows_sampled}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Put back what `extra_state` returned (into a buffer built with the same settings)."""
        self.generator.load_state_dict(state["generator"])
        pool = state["pool"]
        self.pool = None if pool is None else Transitions(
            **{name: pool[name].numpy().copy() for name in _POOL_FIELDS}
        )
        self.since_refit = int(state["since_refit"])
        self._last_refit = {key: float(value) for key, value in state["last_refit"].items()}
        self._metrics = {key: float(value) for key, value in state["pending_metrics"].items()}
        self.labeller.generator.set_state(state["labeller_rng"])
        # checkpoints written before the guard existed hold no share: the configured ratio
        self.share = float(state.get("share", self.synthetic.ratio))
        self.guard_cuts = int(state.get("guard_cuts", 0))
        self.synthetic_rows_sampled = int(state.get("synthetic_rows_sampled", 0))
