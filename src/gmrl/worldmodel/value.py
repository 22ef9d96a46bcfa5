"""A learned state value at the end of the planning horizon (the terminal value of MPC).

A planner that looks `H` steps ahead is blind to what happens after them: a +1-per-step task
whose failure comes from a slow drift (CartPole's cart leaving the track hundreds of steps later)
or a goal further than `H` steps away looks the same to it from every state. TD-MPC (Hansen et
al. 2022) and LOOP (Sikchi et al. 2022) close the gap with a value function at the horizon:
the plan's score becomes `sum_t gamma^t r_t + gamma^H V(s_H)`.

`TerminalValue` is that `V`: an MLP fitted by TD(0) on the agent's real transitions
(`r + gamma (1 - terminated) V'(s')`, with a slowly tracking target copy `V'`; time-limit ends
bootstrap, true terminations do not). It estimates the value of the behaviour that produced
the data (the planner's recent past), which is what a terminal estimate needs: which states lead
to more reward and which to an early end.
"""

import copy
from typing import Any

import torch
from pydantic import Field
from torch import nn
from torch.nn import functional as F

from gmrl.core.config import PositiveFloat, Probability, StrictModel
from gmrl.worldmodel.base import Transitions


class ValueConfig(StrictModel):
    """Terminal value of the MPC planner (`enabled=False`: score plans by their H steps only)."""

    enabled: bool = Field(default=False, description="add gamma^H V(s_H) to every plan's score")
    discount: Probability = Field(
        default=0.99, description="gamma of V's TD targets (and of the plan's rewards when on)"
    )
    hidden: int = Field(default=128, ge=1, description="width of V's two hidden layers")
    updates: int = Field(default=500, ge=0, description="TD(0) gradient steps per model refit")
    batch_size: int = Field(default=256, ge=1)
    lr: PositiveFloat = Field(default=1e-3, description="Adam learning rate")
    tau: float = Field(default=0.02, gt=0, le=1, description="target network tracking rate")


class TerminalValue(nn.Module):
    """`V(s)` for vector states, fitted by TD(0) on real transitions (see the module docstring)."""

    obs_mean: torch.Tensor
    obs_std: torch.Tensor

    def __init__(self, obs_dim: int, config: ValueConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or ValueConfig()
        self.net = nn.Sequential(
            nn.Linear(obs_dim, c.hidden), nn.SiLU(),
            nn.Linear(c.hidden, c.hidden), nn.SiLU(),
            nn.Linear(c.hidden, 1),
        )
        self.register_buffer("obs_mean", torch.zeros(obs_dim))
        self.register_buffer("obs_std", torch.ones(obs_dim))
        self.target = copy.deepcopy(self.net).requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=c.lr)

    def _normalise(self, obs: torch.Tensor) -> torch.Tensor:
        return (obs.float().reshape(obs.shape[0], -1) - self.obs_mean) / self.obs_std

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """`V(obs)`, shape `(B,)`."""
        return self.net(self._normalise(obs)).squeeze(-1)

    def fit(
        self, transitions: Transitions, *, generator: torch.Generator | None = None
    ) -> dict[str, float]:
        """`updates` TD(0) steps on minibatches of `transitions`; returns the last TD error."""
        c = self.config
        device = self.obs_mean.device
        obs = transitions["obs"].float().to(device)
        n = obs.shape[0]
        with torch.no_grad():
            self.obs_mean.copy_(obs.reshape(n, -1).mean(0))
            spread = obs.reshape(n, -1).std(0) if n > 1 else torch.ones_like(self.obs_std)
            self.obs_std.copy_(spread.clamp_min(1e-6))
        next_obs = transitions["next_obs"].float().to(device)
        reward = transitions["reward"].float().to(device).reshape(-1)
        alive = 1.0 - transitions["terminated"].float().to(device).reshape(-1)
        # no return can leave [r_min, r_max] / (1 - gamma): clamping the targets there keeps
        # bootstrapping from running away (TD with function approximation off-policy can)
        low = min(float(reward.min()), 0.0) / (1 - c.discount + 1e-8)
        high = max(float(reward.max()), 0.0) / (1 - c.discount + 1e-8)
        loss = torch.zeros(())
        for _ in range(c.updates):
            idx = torch.randint(n, (min(c.batch_size, n),), generator=generator).to(device)
            with torch.no_grad():
                nxt = self.target(self._normalise(next_obs[idx])).squeeze(-1)
                target = (reward[idx] + c.discount * alive[idx] * nxt).clamp(low, high)
            loss = F.smooth_l1_loss(self(obs[idx]), target)
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
