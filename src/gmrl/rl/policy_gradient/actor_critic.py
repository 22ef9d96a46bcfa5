"""Advantage actor-critic (A2C, Mnih et al. 2016) with GAE(λ) (Schulman et al. 2016).

Each iteration steps `num_envs` environments (a `gymnasium.vector.SyncVectorEnv`) for `n_steps`
steps, then takes one gradient step on

    A_t = GAE(λ) of δ_t = r_t + γ V(s_{t+1}) (1 - terminated_t) - V(s_t)
    loss = -mean(log π(a_t|s_t) A_t) + value_coef * mean((V(s_t) - (A_t + V(s_t)))^2) - β H

`lam=1` gives n-step returns bootstrapped at the rollout's end; `lam=0` the one-step TD
advantage. Truncation is handled exactly: the value of the true final observation of a
time-limited episode (`info["final_obs"]`) is bootstrapped, while a terminated episode's is not
(`generalized_advantage` keeps `terminated` and `ends` apart).

`update_epochs > 1` re-uses a rollout for several passes with PPO's clipped ratio
(`clip_range`); the default of 1 pass is plain A2C, for which the ratio is exactly 1.
"""

from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field

from gmrl.core.config import NonNegativeFloat, PositiveFloat
from gmrl.rl.policy_gradient.agent import PolicyGradientAgent, PolicyGradientConfig
from gmrl.rl.policy_gradient.losses import generalized_advantage, policy_gradient_loss


class ActorCriticConfig(PolicyGradientConfig):
    """A2C/GAE hyper-parameters (defaults suit CartPole-style tasks)."""

    n_steps: int = Field(16, ge=1, description="steps per env per rollout")
    lam: float = Field(0.95, ge=0.0, le=1.0, description="GAE λ (1 = n-step returns)")
    value_coef: NonNegativeFloat = Field(0.5, description="weight of the value loss")
    update_epochs: int = Field(1, ge=1, description="passes over each rollout (1 = A2C)")
    minibatches: int = Field(1, ge=1, description="minibatches per pass when update_epochs > 1")
    clip_range: PositiveFloat = Field(0.2, description="PPO ratio clip, used when epochs > 1")


class ActorCritic(PolicyGradientAgent):
    """A2C with GAE on vectorised envs, for Discrete or Box actions."""

    algo: ClassVar[str] = "actor_critic"
    config_class: ClassVar[type[PolicyGradientConfig]] = ActorCriticConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._obs: np.ndarray | None = None
        self._running_return = np.zeros(self.config.num_envs)
        self._running_length = np.zeros(self.config.num_envs, dtype=np.int64)

    def close(self) -> None:
        super().close()
        self._obs = None

    def collector_state(self) -> dict[str, Any]:
        """The rollout continues across iterations: last observations and running episodes."""
        if self._obs is None:
            return {}
        return {"obs": torch.from_numpy(np.array(self._obs, copy=True)),
                "running_return": torch.from_numpy(self._running_return.copy()),
                "running_length": torch.from_numpy(self._running_length.copy())}

    def load_collector_state(self, state: dict[str, Any]) -> None:
        if state:
            self._obs = state["obs"].numpy().copy()
            self._running_return = state["running_return"].numpy().copy()
            self._running_length = state["running_length"].numpy().copy()

    def collect_rollout(self) -> tuple[dict[str, torch.Tensor], list[float], list[int]]:
        """`n_steps` steps of every env; returns time-major tensors and finished episodes."""
        envs = self.envs()
        if self._obs is None:
            self._obs = self.reset_envs()
            self._running_return[:] = 0.0
            self._running_length[:] = 0
        obs = self._obs
        keys = ("obs", "raw", "log_prob", "reward", "next_obs", "terminated", "end")
        steps: dict[str, list] = {k: [] for k in keys}
        finished_returns: list[float] = []
        finished_lengths: list[int] = []
        for _ in range(self.config.n_steps):
            self.observe(obs)
            with torch.no_grad():
                dist = self.policy.distribution(self.features(obs))
                raw = self.policy.sample(dist, deterministic=False, generator=self.generator)
                log_prob = self.policy.log_prob(dist, raw)
            next_obs, reward, terminated, truncated, info = envs.step(self.policy.to_env(raw))
            done = terminated | truncated
            true_next = next_obs.copy()
            if done.any():  # SAME_STEP autoreset: next_obs already belongs to a new episode
                true_next[done] = np.stack(info["final_obs"][done])
            self._running_return += reward
            self._running_length += 1
            finished_returns += self._running_return[done].tolist()
            finished_lengths += self._running_length[done].tolist()
            self._running_return[done] = 0.0
            self._running_length[done] = 0
            for key, value in (
                ("obs", obs), ("raw", raw), ("log_prob", log_prob), ("reward", reward),
                ("next_obs", true_next), ("terminated", terminated), ("end", done),
            ):
                steps[key].append(value)
            obs = next_obs
        self._obs = obs
        batch = {
            k: torch.stack(v) if isinstance(v[0], torch.Tensor)
            else torch.as_tensor(np.asarray(v), device=self.device)
            for k, v in steps.items()
        }
        return batch, finished_returns, finished_lengths

    def train_iteration(self) -> dict[str, float]:
        cfg = self.config
        batch, episode_returns, episode_lengths = self.collect_rollout()
        horizon, n = batch["reward"].shape
        self.num_steps += horizon * n
        self.num_episodes += len(episode_returns)

        flat = lambda x: x.reshape(horizon * n, *x.shape[2:])  # noqa: E731
        obs, next_obs = flat(batch["obs"]), flat(batch["next_obs"])
        with torch.no_grad():
            values = self.value(self.features(obs)).squeeze(-1).reshape(horizon, n)
            next_values = self.value(self.features(next_obs)).squeeze(-1).reshape(horizon, n)
        advantages = generalized_advantage(
            batch["reward"].float().T, values.T, next_values.T, batch["terminated"].T,
            batch["end"].T, cfg.gamma, cfg.lam,
        ).T
        returns = (advantages + values).reshape(-1)
        advantages = advantages.reshape(-1)
        raw, old_log_prob = flat(batch["raw"]), batch["log_prob"].reshape(-1)

        total = horizon * n
        minibatches = cfg.minibatches if cfg.update_epochs > 1 else 1
        size = max(total // minibatches, 1)
        stats: dict[str, float] = {}
        for _ in range(cfg.update_epochs):
            order = (torch.randperm(total, device=self.device, generator=self.generator)
                     if minibatches > 1 else None)
            for start in range(0, total, size):
                index = order[start : start + size] if order is not None else slice(None)
                stats = self._update(obs[index], raw[index], old_log_prob[index],
                                     advantages[index], returns[index])
        metrics = {f"losses/{k}": v for k, v in stats.items()}
        if episode_returns:
            metrics["charts/episodic_return"] = float(np.mean(episode_returns))
            metrics["charts/episodic_length"] = float(np.mean(episode_lengths))
        return metrics

    def _update(
        self, obs: torch.Tensor, raw: torch.Tensor, old_log_prob: torch.Tensor,
        advantages: torch.Tensor, returns: torch.Tensor,
    ) -> dict[str, float]:
        cfg = self.config
        if cfg.normalize_advantages and advantages.numel() > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        features = self.features(obs)
        dist = self.policy.distribution(features)
        log_prob = self.policy.log_prob(dist, raw)
        if cfg.update_epochs == 1:
            policy_loss = policy_gradient_loss(log_prob, advantages)
        else:  # PPO-clip surrogate when a rollout is reused
            ratio = (log_prob - old_log_prob).exp()
            clipped = ratio.clamp(1.0 - cfg.clip_range, 1.0 + cfg.clip_range)
            policy_loss = -torch.min(ratio * advantages, clipped * advantages).mean()
        value_loss = 0.5 * ((self.value(features).squeeze(-1) - returns) ** 2).mean()
        entropy = self.policy.entropy(dist).mean()
        loss = policy_loss + cfg.value_coef * value_loss - cfg.entropy_coef * entropy
        grad_norm = self.step_update(loss)
        return {
            "policy_loss": float(policy_loss.detach()), "value_loss": float(value_loss.detach()),
            "entropy": float(entropy.detach()), "grad_norm": grad_norm,
        }
