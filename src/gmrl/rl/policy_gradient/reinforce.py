"""REINFORCE with a learned value baseline (Williams 1992; Sutton & Barto 2018, §13.4).

Each iteration runs one complete episode in each of `num_envs` environments side by side (so a
batch is `num_envs` episodes, and a whole batch needs only one forward pass per time step), then:

    G_t = r_t + γ r_{t+1} + ...            Monte-Carlo reward-to-go (discounted_returns)
    A_t = G_t - V(s_t)                      the learned baseline lowers variance, adds no bias
    loss = -mean(log π(a_t|s_t) A_t) + value_coef * mean((V(s_t) - G_t)^2) - β H[π(.|s_t)]

An episode cut by a time limit (truncated, not terminated) is bootstrapped: γ V(s_T) is added to
its last reward, so the return estimates what would have followed rather than pretending the
task ended. Steps after an env's episode ended (it keeps stepping until the slowest env finishes)
are masked out and not counted in the env-step budget.
"""

from typing import ClassVar

import numpy as np
import torch
from pydantic import Field

from gmrl.core.config import NonNegativeFloat
from gmrl.rl.policy_gradient.agent import PolicyGradientAgent, PolicyGradientConfig
from gmrl.rl.policy_gradient.losses import discounted_returns, policy_gradient_loss


class ReinforceConfig(PolicyGradientConfig):
    """REINFORCE hyper-parameters; `num_envs` is the number of episodes per gradient step."""

    value_coef: NonNegativeFloat = Field(0.5, description="weight of the baseline's MSE loss")
    value_epochs: int = Field(1, ge=1, description="extra baseline fitting steps per batch")


class Reinforce(PolicyGradientAgent):
    """Monte-Carlo policy gradient with a state-value baseline, for Discrete or Box actions."""

    algo: ClassVar[str] = "reinforce"
    config_class: ClassVar[type[PolicyGradientConfig]] = ReinforceConfig

    def collect_episodes(self) -> dict[str, torch.Tensor]:
        """One episode per env; tensors are time-major `(T, N, ...)` with a validity mask."""
        envs = self.envs()
        obs = self.reset_envs()
        n = self.config.num_envs
        active = np.ones(n, dtype=bool)
        steps: dict[str, list] = {k: [] for k in ("obs", "raw", "reward", "mask", "end")}
        bootstrap_obs = np.zeros_like(obs)
        truncated_at_end = np.zeros(n, dtype=bool)
        while active.any():
            self.observe(obs[active])
            with torch.no_grad():
                dist = self.policy.distribution(self.features(obs))
                raw = self.policy.sample(dist, deterministic=False, generator=self.generator)
            next_obs, reward, terminated, truncated, info = envs.step(self.policy.to_env(raw))
            done = (terminated | truncated) & active
            steps["obs"].append(obs)
            steps["raw"].append(raw)
            steps["reward"].append(np.where(active, reward, 0.0))
            steps["mask"].append(active.copy())
            steps["end"].append(done)
            cut = truncated & ~terminated & active
            if cut.any():  # SAME_STEP autoreset: the true last observation is in final_obs
                bootstrap_obs[cut] = np.stack(info["final_obs"][cut])
                truncated_at_end |= cut
            active &= ~done
            obs = next_obs
        as_tensor = lambda key, dtype: torch.as_tensor(  # noqa: E731
            np.asarray(steps[key]), dtype=dtype, device=self.device
        )
        return {
            "obs": torch.as_tensor(np.asarray(steps["obs"]), device=self.device),
            "raw": torch.stack(steps["raw"]),
            "reward": as_tensor("reward", torch.float32),
            "mask": as_tensor("mask", torch.float32),
            "end": as_tensor("end", torch.float32),
            "bootstrap_obs": torch.as_tensor(bootstrap_obs, device=self.device),
            "truncated": torch.as_tensor(truncated_at_end, device=self.device),
        }

    def returns_to_go(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Discounted reward-to-go `(T, N)`; truncated episodes end with γ V(s_T) added."""
        gamma = self.config.gamma
        rewards = batch["reward"].clone()
        n = rewards.shape[1]
        with torch.no_grad():
            tail = self.value(self.features(batch["bootstrap_obs"])).squeeze(-1)
        last = (batch["mask"].sum(0).long() - 1).clamp_min(0)
        bonus = torch.where(batch["truncated"], gamma * tail, torch.zeros_like(tail))
        rewards[last, torch.arange(n, device=self.device)] += bonus
        return discounted_returns(rewards.T, batch["end"].T, gamma).T

    def train_iteration(self) -> dict[str, float]:
        cfg = self.config
        batch = self.collect_episodes()
        horizon, n = batch["reward"].shape
        mask = batch["mask"]
        episode_returns = batch["reward"].sum(0)
        episode_lengths = mask.sum(0)
        self.num_steps += int(episode_lengths.sum())
        self.num_episodes += n

        returns = self.returns_to_go(batch)

        flat_obs = batch["obs"].reshape(horizon * n, *batch["obs"].shape[2:])
        features = self.features(flat_obs)
        values = self.value(features).squeeze(-1).reshape(horizon, n)
        advantages = (returns - values).detach()
        if cfg.normalize_advantages:
            valid = advantages[mask.bool()]
            advantages = (advantages - valid.mean()) / (valid.std() + 1e-8)
        dist = self.policy.distribution(features)
        raw = batch["raw"].reshape(horizon * n, *batch["raw"].shape[2:])
        log_probs = self.policy.log_prob(dist, raw).reshape(horizon, n)
        entropy = (self.policy.entropy(dist).reshape(horizon, n) * mask).sum() / mask.sum()
        policy_loss = policy_gradient_loss(log_probs, advantages, mask)
        value_loss = (((values - returns) ** 2) * mask).sum() / mask.sum()
        loss = policy_loss + cfg.value_coef * value_loss - cfg.entropy_coef * entropy
        grad_norm = self.step_update(loss)
        for _ in range(cfg.value_epochs - 1):  # optional extra fitting of the baseline
            values = self.value(features.detach()).squeeze(-1).reshape(horizon, n)
            extra = (((values - returns) ** 2) * mask).sum() / mask.sum()
            self.step_update(cfg.value_coef * extra)
        return {
            "charts/episodic_return": float(episode_returns.mean()),
            "charts/episodic_length": float(episode_lengths.mean()),
            "losses/policy_loss": float(policy_loss.detach()),
            "losses/value_loss": float(value_loss.detach()),
            "losses/entropy": float(entropy.detach()),
            "losses/grad_norm": grad_norm,
        }
