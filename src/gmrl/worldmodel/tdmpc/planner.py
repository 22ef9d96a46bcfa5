"""MPPI in the latent space, seeded with policy samples and bootstrapped with Q at the horizon.

For each of `E` states planned for at once (a vector env's observations), a distribution over
`horizon`-step action sequences is refined for `iterations` rounds: candidates are drawn from it
(plus `policy_samples` sequences rolled out by the policy prior), scored by

    G = sum_t gamma^t alive_t r_t + gamma^H alive_H V(z_H),   alive_{t+1} = alive_t (1 - p_term)

through the learned model (while training with `explore > 0`, each r_t plus the novelty bonus
`bonus x disagreement(z_t, a_t)`, `bonus` = explore x the real rewards' spread, set by the
agent), and the distribution moves to the score-weighted mean of the
`elites` best (MPPI), weighted by `softmax(temperature * G / value_scale)` where `value_scale` is
the agent's running spread of Q (so the weighting does not depend on the reward's scale). Box
actions use a diagonal Gaussian; Discrete actions one categorical per step (with a probability
floor so no action is ever ruled out; with `noise_beta > 0`, Box candidates are colored
noise along the plan, as in iCEM). The previous step's plan, shifted
by one step, warm-starts the next one (`state` in `TDMPCAgent.predict`).
"""

from dataclasses import dataclass

import torch

from gmrl.worldmodel.planners import colored_noise
from gmrl.worldmodel.tdmpc.config import TDMPCConfig
from gmrl.worldmodel.tdmpc.model import LatentModel


@dataclass
class Plan:
    """The planner's output for E states: first actions and the distribution to warm-start."""

    action: torch.Tensor  # (E, A) Box in [-1, 1], or (E,) Discrete indices
    mean: torch.Tensor  # (E, H, A) Gaussian mean, or (E, H, n) categorical probabilities


class MPPIPlanner:
    """Plans with a `LatentModel`; see the module docstring."""

    def __init__(self, model: LatentModel, config: TDMPCConfig, discount: float) -> None:
        self.model, self.config, self.discount = model, config, discount
        # the spread of values the agent sees (its running 5-95 % range of Q): MPPI's weights
        # are softmax(temperature * (G - G_max) / value_scale), the same at any reward scale
        self.value_scale = 1.0
        self.iterations_used = 0  # MPPI iterations the last plan took (see `prior_stop`)
        # the novelty bonus per unit of disagreement while exploring (the agent sets it: explore
        # x the real rewards' spread); a tensor, so a compiled `score` does not recompile
        self.bonus = torch.zeros(())
        # what scores candidates: `returns`, or its torch.compile'd version (`compile: true`)
        self.score = self.returns

    @property
    def horizon(self) -> int:
        return self.config.plan_horizon or self.config.horizon

    def initial(self, count: int, device: torch.device) -> torch.Tensor:
        """The distribution parameters before any warm start."""
        shape = (count, self.horizon, self.model.action_dim)
        if self.model.discrete:
            return torch.full(shape, 1.0 / self.model.action_dim, device=device)
        return torch.zeros(shape, device=device)

    def shift(self, mean: torch.Tensor) -> torch.Tensor:
        """Warm start: drop the executed step, repeat the last one."""
        return torch.cat([mean[:, 1:], mean[:, -1:]], 1)

    def returns(self, z: torch.Tensor, actions: torch.Tensor, generator: torch.Generator,
                bonus: torch.Tensor | None = None) -> torch.Tensor:
        """G for latent states z (M, L) and action vectors (M, H, A); with `bonus`, each step's
        reward plus `bonus` x the novelty heads' disagreement there."""
        model, gamma = self.model, self.discount
        total = torch.zeros(z.shape[0], device=z.device)
        weight = torch.ones_like(total)
        for t in range(actions.shape[1]):
            reward = model.codec.decode(model.reward_logits(z, actions[:, t]))
            if bonus is not None:
                reward = reward + bonus * model.disagreement(z, actions[:, t])
            z = model.next(z, actions[:, t])
            total = total + weight * reward
            weight = weight * gamma * (1 - model.termination_prob(z))
        return total + weight * model.value(z, generator=generator)

    @torch.no_grad()
    def plan(
        self, z: torch.Tensor, warm: torch.Tensor, *, explore: bool, generator: torch.Generator
    ) -> Plan:
        """Plan for latent states z (E, L) starting from distribution `warm` (E, H, A)."""
        cfg, model = self.config, self.model
        _, horizon, width = warm.shape
        device = z.device
        bonus = self.bonus.to(device) if explore and model.novelty is not None else None
        policy_actions = self._policy_rollouts(z, generator)  # (E, P, H, A)
        samples, proposals = cfg.samples, policy_actions.shape[1]
        mean = warm.clone()
        std = torch.full_like(mean, cfg.max_std)
        # the policy's proposals do not change between iterations: scored once
        policy_value = self._scores(z, policy_actions, generator, bonus)  # (E, P)
        best_proposal = policy_value.max(1).values if proposals else None
        self.iterations_used = 0
        for iteration in range(cfg.iterations):
            drawn = self._draw(mean, std, samples, generator)  # (E, N, H, A)
            candidates = torch.cat([policy_actions, drawn], 1)
            value = torch.cat([policy_value, self._scores(z, drawn, generator, bonus)], 1)
            elite_value, elite_index = value.topk(min(cfg.elites, value.shape[1]), 1)
            self.iterations_used = iteration + 1
            elites = candidates.gather(
                1, elite_index[:, :, None, None].expand(-1, -1, horizon, width))
            score = torch.softmax(
                cfg.temperature * (elite_value - elite_value[:, :1]) / self.value_scale, 1)
            weights = score[:, :, None, None]
            mean = (weights * elites).sum(1)
            if model.discrete:
                mean = (1 - width * cfg.min_prob) * mean + cfg.min_prob
            else:
                spread = (weights * (elites - mean.unsqueeze(1)).pow(2)).sum(1).sqrt()
                std = spread.clamp(cfg.min_std, cfg.max_std)
            if best_proposal is not None and cfg.prior_stop is not None:
                # how far the prior's best proposal trails the best plan, in units of Q's spread
                gap = (elite_value[:, 0] - best_proposal) / self.value_scale
                if bool((gap <= cfg.prior_stop).all()):
                    break  # the prior proposes (nearly) the best plan: refining adds little
        if model.discrete:
            first = mean[:, 0]
            action = (torch.multinomial(first, 1, generator=generator).squeeze(-1) if explore
                      else first.argmax(-1))
            return Plan(action=action.to(device), mean=mean)
        # the top-scored elite's first action, or the elites' score-weighted mean
        best = mean[:, 0] if cfg.plan_action == "mean" else elites[:, 0, 0]
        if explore:
            noise = torch.randn(best.shape, generator=generator, device=device)
            best = (best + noise * std[:, 0]).clamp(-1, 1)
        return Plan(action=best, mean=mean)

    def _scores(self, z: torch.Tensor, actions: torch.Tensor, generator: torch.Generator,
                bonus: torch.Tensor | None = None) -> torch.Tensor:
        """G for E latent states z (E, L) and their candidates (E, N, H, A) -> (E, N)."""
        count, number, horizon, width = actions.shape
        if number == 0:
            return torch.zeros(count, 0, device=z.device)
        starts = z.unsqueeze(1).expand(count, number, -1).reshape(-1, z.shape[-1])
        value = self.score(starts, actions.reshape(-1, horizon, width), generator, bonus)
        return torch.nan_to_num(value.reshape(count, number), nan=-1e9)

    def _draw(self, mean: torch.Tensor, std: torch.Tensor, samples: int,
              generator: torch.Generator) -> torch.Tensor:
        count, horizon, width = mean.shape
        if self.model.discrete:
            flat = mean.reshape(-1, width)
            index = torch.multinomial(flat, samples, replacement=True, generator=generator)
            index = index.reshape(count, horizon, samples).permute(0, 2, 1)
            return self.model.one_hot(index)
        beta = self.config.noise_beta
        if beta > 0 and horizon > 1:  # colored along the plan (iCEM)
            noise = colored_noise((count, samples, width), horizon, beta, generator,
                                  mean.device).transpose(2, 3)
        else:
            noise = torch.randn((count, samples, horizon, width), generator=generator,
                                device=mean.device)
        return (mean.unsqueeze(1) + std.unsqueeze(1) * noise).clamp(-1, 1)

    def _policy_rollouts(self, z: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        count, horizon = z.shape[0], self.horizon
        samples = self.config.policy_samples
        if samples == 0:
            return torch.zeros(count, 0, horizon, self.model.action_dim, device=z.device)
        state = z.unsqueeze(1).expand(count, samples, -1).reshape(count * samples, -1)
        actions = []
        for _ in range(horizon):
            action, _ = self.model.policy_sample(state, generator=generator)
            actions.append(action)
            state = self.model.next(state, action)
        return torch.stack(actions, 1).reshape(count, samples, horizon, -1)
