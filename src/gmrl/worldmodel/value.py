"""A learned state value at the end of the planning horizon (the terminal value of MPC).

A planner that looks `H` steps ahead is blind to what happens after them: a +1-per-step task
whose failure comes from a slow drift (CartPole's cart leaving the track hundreds of steps later)
or a goal further than `H` steps away looks the same to it from every state. TD-MPC (Hansen et
al. 2022) and LOOP (Sikchi et al. 2022) close the gap with a value function at the horizon:
the plan's score becomes `sum_t gamma^t r_t + gamma^H V(s_H)`.

`TerminalValue` is that `V`: an MLP fitted on the agent's real transitions by n-step TD
(`sum_k gamma^k r_{t+k} + gamma^n (1 - terminated) V'(s_{t+n})` along each stored episode, with a
slowly tracking target copy `V'`; time-limit ends bootstrap, true terminations do not; n-step
targets carry news of a failure n times faster back along the trajectory than one-step ones).
It estimates the value of the behaviour that produced the data (the planner's recent past),
which is what a terminal estimate needs: which states lead to more reward and which to an end.

A planner searches for the states V rates highest, so V's errors are exploited: an MLP
extrapolates linearly off the data (we measured V = 540 and -200 at CartPole's track ends, where
no return can exceed 100), and the plan drifts there. So V is pessimistic by construction: two
heads trained on the same targets, the smaller one counts (as clipped double-Q), and every value
is clamped to what returns can be, [min(r, 0), max(r, 0)] / (1 - gamma) over the rewards seen.
"""

import copy
from typing import Any

import torch
from pydantic import Field
from torch import nn
from torch.nn import functional as F

from gmrl.core.config import PositiveFloat, Probability, StrictModel
from gmrl.rl.transitions import TransitionBatch


class ValueConfig(StrictModel):
    """Terminal value of the MPC planner (`enabled=False`: score plans by their H steps only)."""

    enabled: bool = Field(default=False, description="add gamma^H V(s_H) to every plan's score")
    discount: Probability = Field(
        default=0.99, description="gamma of V's TD targets (and of the plan's rewards when on)"
    )
    hidden: int = Field(default=128, ge=1, description="width of V's two hidden layers")
    updates: int = Field(default=500, ge=0, description="TD gradient steps per model refit")
    batch_size: int = Field(default=256, ge=1)
    lr: PositiveFloat = Field(default=1e-3, description="Adam learning rate")
    tau: float = Field(default=0.02, gt=0, le=1, description="target network tracking rate")
    n_step: int = Field(default=5, ge=1, description="steps of real reward before bootstrapping")


class TerminalValue(nn.Module):
    """`V(s)` for vector states, fitted by n-step TD on real transitions (module docstring)."""

    obs_mean: torch.Tensor
    obs_std: torch.Tensor
    bounds: torch.Tensor

    def __init__(self, obs_dim: int, config: ValueConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or ValueConfig()
        self.net = nn.Sequential(
            nn.Linear(obs_dim, c.hidden), nn.SiLU(),
            nn.Linear(c.hidden, c.hidden), nn.SiLU(),
            nn.Linear(c.hidden, 2),  # two heads: the smaller counts
        )
        self.register_buffer("obs_mean", torch.zeros(obs_dim))
        self.register_buffer("obs_std", torch.ones(obs_dim))
        self.register_buffer("bounds", torch.tensor([0.0, 0.0]))  # set from the rewards seen
        self.target = copy.deepcopy(self.net).requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=c.lr)

    def _normalise(self, obs: torch.Tensor) -> torch.Tensor:
        return (obs.float().reshape(obs.shape[0], -1) - self.obs_mean) / self.obs_std

    def _pessimistic(self, heads: torch.Tensor) -> torch.Tensor:
        return torch.minimum(heads.amin(-1), self.bounds[1]).clamp_min(self.bounds[0])

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """`V(obs)`, shape `(B,)`: the smaller head, clamped to the possible returns."""
        return self._pessimistic(self.net(self._normalise(obs)))

    def fit(
        self, transitions: TransitionBatch, *, generator: torch.Generator | None = None
    ) -> dict[str, float]:
        """`updates` n-step TD steps on minibatches of `transitions`; returns the last TD loss."""
        c = self.config
        device = self.obs_mean.device
        obs = transitions["obs"].float().to(device)
        n = obs.shape[0]
        with torch.no_grad():
            self.obs_mean.copy_(obs.reshape(n, -1).mean(0))
            spread = obs.reshape(n, -1).std(0) if n > 1 else torch.ones_like(self.obs_std)
            self.obs_std.copy_(spread.clamp_min(1e-6))
        returns, discount, boot = n_step_targets(transitions, c.n_step, c.discount)
        returns, discount = returns.to(device), discount.to(device)
        boot_obs = transitions["next_obs"].float().to(device)[boot.to(device)]
        # no return can leave [r_min, r_max] / (1 - gamma)
        reward = transitions["reward"].float().reshape(-1)
        with torch.no_grad():
            self.bounds.copy_(torch.tensor([
                min(float(reward.min()), 0.0) / (1 - c.discount + 1e-8),
                max(float(reward.max()), 0.0) / (1 - c.discount + 1e-8),
            ]))
        loss = torch.zeros(())
        for _ in range(c.updates):
            idx = torch.randint(n, (min(c.batch_size, n),), generator=generator).to(device)
            with torch.no_grad():
                nxt = self._pessimistic(self.target(self._normalise(boot_obs[idx])))
                target = returns[idx] + discount[idx] * nxt
            heads = self.net(self._normalise(obs[idx]))
            loss = F.smooth_l1_loss(heads, target.unsqueeze(-1).expand_as(heads))
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            with torch.no_grad():
                for tp, p in zip(self.target.parameters(), self.net.parameters(), strict=True):
                    tp.lerp_(p, c.tau)
        with torch.no_grad():
            values = self(obs)
        return {"value_td_loss": float(loss.detach()), "value_mean": float(values.mean())}

    # ------------------------------------------------------------------ checkpoints
    def training_state(self) -> dict[str, Any]:
        """Weights (incl. the target copy and normaliser) and the optimizer's moments."""
        return {"weights": dict(self.state_dict()), "optimizer": self.optimizer.state_dict()}

    def load_training_state(self, state: dict[str, Any]) -> None:
        self.load_state_dict(state["weights"])
        self.optimizer.load_state_dict(state["optimizer"])


def n_step_targets(
    transitions: TransitionBatch, n: int, discount: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each stored transition t (in the order taken): the discounted reward of up to `n`
    steps within its episode, the factor on the bootstrap value (gamma^m, or 0 when the episode
    terminated within them) and the index whose `next_obs` is bootstrapped from.

    Episodes end at `terminated` or `truncated` (a truncation bootstraps, a termination does
    not); the last stored transition ends the data.
    """
    reward = transitions["reward"].double().reshape(-1)
    term = transitions["terminated"].bool().reshape(-1)
    ends = term | transitions.get("truncated", torch.zeros_like(term)).bool().reshape(-1)
    size = reward.numel()
    index = torch.arange(size)
    returns = torch.zeros(size, dtype=torch.float64)
    factor = torch.ones(size, dtype=torch.float64)
    boot = index.clone()
    open_ = torch.ones(size, dtype=torch.bool)  # still inside the episode
    for k in range(n):
        step = (index + k).clamp(max=size - 1)
        take = open_ & (index + k < size)
        returns += torch.where(take, factor * reward[step], 0.0)
        factor = torch.where(take, factor * discount, factor)
        boot = torch.where(take, step, boot)
        dead = take & term[step]
        factor = torch.where(dead, 0.0, factor)
        open_ = take & ~ends[step]
    return returns.float(), factor.float(), boot
