"""Model-predictive control through a learned world model: CEM for continuous and discrete actions.

`CEMPlanner(model, action_space, CEMConfig(...)).plan(obs)` takes a batch of `N` real states
(several environments at once) and returns one action per state. For each state it samples
`population` action sequences of length `horizon`, rolls every sequence through the model,
scores it by the imagined return and refits the sampling distribution to the `elites` best,
`iterations` times (the cross-entropy method). Everything is one tensor program over
`N x population x particles` rows per imagined step.

- Continuous actions (Box): a diagonal Gaussian per time step, clipped to the bounds, with
  momentum `alpha` between iterations (PETS, Chua et al. 2018).
- Discrete actions: a categorical distribution per time step, refit to the elites' action
  frequencies; `iterations=1` is plain random shooting.
- Ensembles: each candidate is rolled out as `particles` particles (None: one per member),
  particle rows being dealt to members in turn and each kept on its member for the whole
  horizon (PETS's TS-inf propagation); a candidate's score is the mean over its particles, so
  with `particles >= ensemble_size` a plan must look good under every member's hypothesis.
  `particles=1` (the default: each candidate judged by one member) is `ensemble_size` times
  cheaper.
- Warm start: after acting, the distribution is shifted one step forward and kept for the next
  call (`reset(mask)` forgets it for environments that start a new episode).

The score of a plan, for tasks whose reward and termination are learned:
- termination as a probability: each imagined reward counts with the probability of being still
  alive (the product of 1 - P(terminated) so far) rather than a hard cut at one threshold;
- `terminal_value` (set by the agent, `gmrl.worldmodel.value`): `gamma^H V(s_H)` is added, so
  what lies beyond the horizon (a slow drift, a distant goal) counts;
- exploration (`explore > 0`, only while training: `plan(..., explore=True)`): each imagined step
  earns `explore x reward_scale x disagreement`, the ensemble members' disagreement there
  (optimism in the face of the model's uncertainty: plans that visit what the model has not yet
  seen look better; the bonus fades as the members agree). `reward_scale` (set by the agent from
  the real rewards' spread) keeps the weight meaningful across tasks;
- colored noise (`noise_beta > 0`, Box actions): candidate sequences are drawn with a 1/f^beta
  spectrum along the horizon (iCEM, Pinneri et al. 2020): smoother, longer-reaching action
  sequences than white noise, which helps a planner get out of a valley (`colored_noise`; the
  agent draws its random warm-up steps from it too).
"""

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from pydantic import Field, model_validator

from gmrl.core.config import NonNegativeFloat, Probability, StrictModel
from gmrl.worldmodel.base import WorldModel


class CEMConfig(StrictModel):
    """CEM planner settings: the one set of defaults (the shipped CartPole config's values)."""

    horizon: int = Field(default=15, ge=1, description="planned steps")
    population: int = Field(default=100, ge=1, description="candidate sequences per iteration")
    elites: int = Field(
        default=10, ge=1, description="best candidates the distribution is refit to"
    )
    iterations: int = Field(default=2, ge=1, description="CEM iterations (1 = random shooting)")
    alpha: float = Field(default=0.1, ge=0, lt=1, description="momentum of the CEM distribution")
    particles: int | None = Field(
        default=1, ge=1, description="particles per candidate (None: one per ensemble member)"
    )
    discount: Probability = Field(default=1.0, description="discount of imagined rewards")
    min_prob: float = Field(
        default=0.02, ge=0, lt=0.5, description="floor of discrete probabilities"
    )
    explore: NonNegativeFloat = Field(
        default=0.0, description="weight of the ensemble-disagreement bonus while training (0: off)"
    )
    noise_beta: NonNegativeFloat = Field(
        default=0.0, description="colored-noise exponent of Box candidates (0: white, iCEM: 2)"
    )

    @model_validator(mode="after")
    def _elites_fit(self) -> "CEMConfig":
        if self.elites > self.population:
            raise ValueError(
                f"elites ({self.elites}) must be <= population ({self.population})"
            )
        return self


def colored_noise(
    leading: tuple[int, ...], steps: int, beta: float, generator: torch.Generator | None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Gaussian sequences `(*leading, steps)` with a 1/f^beta power spectrum along the last axis
    (0: white, 1: pink, 2: red / Brownian-like), each rescaled to unit variance.

    Correlated in time, so a sequence of actions drawn from it pushes in one direction for a
    while: what gets a car out of a valley where white noise only jitters in place (iCEM,
    Pinneri et al. 2020; Eberhard et al. 2023).
    """
    freqs = torch.fft.rfftfreq(steps, device=device)
    scale = freqs.clamp_min(1.0 / steps) ** (-beta / 2)
    real = torch.randn((*leading, freqs.numel()), generator=generator, device=device)
    imag = torch.randn((*leading, freqs.numel()), generator=generator, device=device)
    signal = torch.fft.irfft(torch.complex(real, imag) * scale, n=steps)
    return signal / signal.std(-1, keepdim=True).clamp_min(1e-6)


class CEMPlanner:
    """Cross-entropy-method MPC over a `WorldModel` (batched over states, candidates, members)."""

    def __init__(
        self, model: WorldModel, action_space: spaces.Space, config: CEMConfig | None = None
    ) -> None:
        if not isinstance(action_space, (spaces.Box, spaces.Discrete)):
            raise TypeError(
                f"CEM plans over Box or Discrete actions, not {type(action_space).__name__}"
            )
        c = self.config = config or CEMConfig()
        self.model, self.action_space = model, action_space
        self.horizon, self.population, self.elites = c.horizon, c.population, c.elites
        self.iterations, self.alpha, self.discount = c.iterations, c.alpha, c.discount
        members = model.ensemble_size
        self.particles = members if c.particles is None else c.particles
        self.min_prob = c.min_prob
        self.explore, self.noise_beta = c.explore, c.noise_beta
        # set by the agent: V(s) at the horizon (None: none) and the real rewards' scale
        self.terminal_value: Any = None
        self.reward_scale = 1.0
        self.discrete = isinstance(action_space, spaces.Discrete)
        self.action_shape = tuple(action_space.shape or ())
        if isinstance(action_space, spaces.Discrete):
            self.n_actions = int(action_space.n)
        else:
            self.low = torch.as_tensor(action_space.low, dtype=torch.float32).reshape(-1)
            self.high = torch.as_tensor(action_space.high, dtype=torch.float32).reshape(-1)
        self._dist: torch.Tensor | None = None  # warm-start: (N, H, A) means or probabilities

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """The warm start (the only state a planner carries between real steps)."""
        return {} if self._dist is None else {"dist": self._dist.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        dist = state.get("dist")
        self._dist = None if dist is None else dist.to(self.model.device)

    # ------------------------------------------------------------------ distribution helpers
    def _initial(self, n: int, steps: int, device: torch.device) -> torch.Tensor:
        if self.discrete:
            return torch.full((n, steps, self.n_actions), 1.0 / self.n_actions, device=device)
        mid = ((self.low + self.high) / 2).to(device)
        return mid.expand(n, steps, -1).clone()

    def _initial_std(self, n: int, device: torch.device) -> torch.Tensor:
        std = ((self.high - self.low) / 4).to(device)
        return std.expand(n, self.horizon, -1).clone()

    def reset(self, mask: np.ndarray | torch.Tensor | None = None) -> None:
        """Forget the warm start (for all states, or for rows where `mask` is true)."""
        if mask is None or self._dist is None:
            self._dist = None
            return
        rows = torch.as_tensor(np.asarray(mask), dtype=torch.bool, device=self._dist.device)
        if rows.any():
            self._dist[rows] = self._initial(int(rows.sum()), self.horizon, self._dist.device)

    # ------------------------------------------------------------------ imagined returns
    def _members(self) -> int:
        return self.model.ensemble_size

    @torch.no_grad()
    def evaluate(
        self,
        obs: torch.Tensor,
        actions: torch.Tensor,
        generator: torch.Generator | None = None,
        *,
        explore: bool = False,
    ) -> torch.Tensor:
        """Mean imagined score of `actions (N, P, H, ...)` from `obs (N, d)`: shape `(N, P)`.

        The score is the survival-weighted discounted return, plus the terminal value and (with
        `explore`) the disagreement bonus, as the module docstring describes.
        """
        n, p, h = actions.shape[:3]
        members = self._members()
        k = self.particles
        rows = n * p * k
        state = obs.unsqueeze(1).unsqueeze(2).expand(n, p, k, -1).reshape(rows, -1)
        acts = actions.unsqueeze(2).expand(n, p, k, *actions.shape[2:]).reshape(rows, h, -1)
        if self.discrete:
            acts = acts[..., 0]
        per_member = members > 1 and hasattr(self.model, "predict_members")
        if per_member:
            # row r -> member r % E (padding to a multiple of E), laid out as (E, rows / E)
            padded = -(-rows // members) * members
            position = torch.arange(padded, device=obs.device).reshape(-1, members).t().reshape(-1)
            order = position % rows
            state, acts = state[order], acts[order]
            rows_run = padded
        else:
            rows_run = rows
        total = torch.zeros(rows_run, device=obs.device)
        alive = torch.ones(rows_run, device=obs.device)
        bonus = self.explore * self.reward_scale if explore else 0.0
        for t in range(h):
            if per_member:
                nxt, reward, done = self.model.predict_members(  # type: ignore[operator]
                    state.reshape(members, rows_run // members, -1),
                    acts[:, t].reshape(members, rows_run // members, *acts.shape[2:]),
                    generator=generator,
                    done_probability=True,
                )
                nxt, reward, done = nxt.reshape(rows_run, -1), reward.reshape(-1), done.reshape(-1)
            else:
                nxt, reward, done = self.model.step(state, acts[:, t], generator=generator)
            step_reward = reward.float()
            if bonus:
                step_reward = step_reward + bonus * self.model.disagreement(state, acts[:, t])
            total = total + alive * (self.discount**t) * step_reward
            alive = alive * (1.0 - done.float())
            state = nxt
        if self.terminal_value is not None:
            total = total + alive * (self.discount**h) * self.terminal_value(state).float()
        if per_member:  # undo the layout; padding rows are duplicates and are dropped
            restored = torch.empty(rows, device=obs.device)
            keep = position < rows
            restored[position[keep]] = total[keep]
            total = restored
        return total.reshape(n, p, k).mean(-1)

    # ------------------------------------------------------------------ planning
    def _sample(
        self, dist: torch.Tensor, std: torch.Tensor | None, generator: torch.Generator | None
    ) -> torch.Tensor:
        n, h = dist.shape[:2]
        if self.discrete:
            flat = dist.reshape(n * h, -1)
            draws = torch.multinomial(
                flat.cpu(), self.population, replacement=True, generator=generator
            ).to(dist.device)
            return draws.reshape(n, h, self.population).permute(0, 2, 1).unsqueeze(-1)
        noise = self._noise((n, self.population, h, dist.shape[-1]), generator, dist.device)
        sample = dist.unsqueeze(1) + std.unsqueeze(1) * noise.to(dist.device)  # type: ignore[union-attr]
        return torch.maximum(
            torch.minimum(sample, self.high.to(dist.device)), self.low.to(dist.device)
        )

    def _noise(
        self, shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device
    ) -> torch.Tensor:
        """Standard normals `(N, P, H, A)`; with `noise_beta > 0`, colored along H."""
        where = generator.device if generator is not None else device
        if self.noise_beta == 0 or shape[2] < 2:
            return torch.randn(shape, generator=generator, device=where).to(device)
        n, p, h, a = shape
        signal = colored_noise((n, p, a), h, self.noise_beta, generator, where)
        return signal.permute(0, 1, 3, 2).to(device)

    @torch.no_grad()
    def plan(
        self, obs: Any, generator: torch.Generator | None = None, *, explore: bool = False
    ) -> np.ndarray:
        """One action per row of `obs (N, d)`: ints `(N,)` (Discrete) or floats `(N, A)` (Box).

        `explore=True` (the agent's training steps) adds the disagreement bonus, if configured.
        """
        device = self.model.device
        obs_t = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=device)
        obs_t = obs_t.reshape(obs_t.shape[0], -1)
        n = obs_t.shape[0]
        if self._dist is None or self._dist.shape[0] != n:
            self._dist = self._initial(n, self.horizon, device)
        dist = self._dist
        std = None if self.discrete else self._initial_std(n, device)
        for _ in range(self.iterations):
            candidates = self._sample(dist, std, generator)
            returns = self.evaluate(obs_t, candidates, generator, explore=explore)
            top = returns.topk(self.elites, dim=1).indices
            elite = torch.gather(
                candidates,
                1,
                top.reshape(n, self.elites, 1, 1).expand(-1, -1, *candidates.shape[2:]),
            )
            if self.discrete:
                freq = torch.nn.functional.one_hot(elite[..., 0].long(), self.n_actions).float()
                dist = self.alpha * dist + (1 - self.alpha) * freq.mean(1)
                dist = dist.clamp_min(self.min_prob)
                dist = dist / dist.sum(-1, keepdim=True)
            else:
                dist = self.alpha * dist + (1 - self.alpha) * elite.mean(1)
                std = self.alpha * std + (1 - self.alpha) * elite.std(1, unbiased=False)  # type: ignore[operator]
        if self.discrete:
            action = dist[:, 0].argmax(-1).cpu().numpy()
        else:
            action = dist[:, 0].cpu().numpy().reshape(n, *self.action_shape)
        # warm start: shift one step forward, new last step from the prior
        self._dist = torch.cat([dist[:, 1:], self._initial(n, 1, device)], dim=1)
        return action
