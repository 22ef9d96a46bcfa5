"""Small networks for gmrl's policy-gradient agents: policies, value functions, obs normalisation.

Two policy heads cover Gymnasium's two common action spaces:

- `CategoricalPolicy` for `Discrete(n)`: logits from an MLP.
- `GaussianPolicy` for a bounded `Box`: a diagonal Gaussian whose log-std is either one learned
  parameter per action dimension (`log_std="state"`-independent, the default, as in PPO/A2C) or a
  second output head (`log_std="learned"`, state-dependent). Bounds are respected in one of two
  ways, chosen by `squash`:
  * `"clip"` (default): the policy's log-prob is that of the raw Gaussian sample and only the
    action sent to the env is clipped to the bounds. Simple and unbiased in the interior; the
    gradient ignores that mass beyond a bound collapses onto it.
  * `"tanh"`: the sample goes through tanh and is rescaled to [low, high]; the log-prob carries
    the change-of-variables term, so it is the exact density of the action taken (as in SAC).

Observations go through `ObservationEncoder` (flatten a Box, one-hot a Discrete) and, optionally,
`RunningNormalizer` (running mean/variance kept in buffers, so they are saved with the weights).
"""

import itertools
from collections.abc import Sequence

import numpy as np
import torch
from gymnasium import spaces
from torch import nn
from torch.distributions import Categorical, Distribution, Independent, Normal


def mlp(
    in_dim: int, hidden: Sequence[int], out_dim: int, *, activation: type[nn.Module] = nn.Tanh,
    out_gain: float = 1.0,
) -> nn.Sequential:
    """A tanh MLP with orthogonal initialisation (the usual choice for on-policy agents)."""
    layers: list[nn.Module] = []
    sizes = [in_dim, *hidden]
    for a, b in itertools.pairwise(sizes):
        layers += [_init(nn.Linear(a, b), np.sqrt(2.0)), activation()]
    layers.append(_init(nn.Linear(sizes[-1], out_dim), out_gain))
    return nn.Sequential(*layers)


def _init(layer: nn.Linear, gain: float) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


class ObservationEncoder(nn.Module):
    """Turns a batch of raw observations into float vectors: Box → flatten, Discrete → one-hot."""

    def __init__(self, space: spaces.Space) -> None:
        super().__init__()
        if isinstance(space, spaces.Discrete):
            self.one_hot_n, self.dim = int(space.n), int(space.n)
            self.start = int(space.start)
        elif isinstance(space, spaces.Box):
            self.one_hot_n, self.dim, self.start = 0, int(np.prod(space.shape)), 0
        else:
            raise TypeError(f"observation space {space} is not supported (Box or Discrete)")

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if self.one_hot_n:
            index = obs.long().reshape(-1) - self.start
            return nn.functional.one_hot(index, self.one_hot_n).float()
        return obs.float().reshape(obs.shape[0], -1)


class RunningNormalizer(nn.Module):
    """Standardise inputs with running mean/variance (parallel Welford update over batches)."""

    mean: torch.Tensor
    var: torch.Tensor
    count: torch.Tensor

    def __init__(self, dim: int, clip: float = 10.0, epsilon: float = 1e-8) -> None:
        super().__init__()
        self.clip, self.epsilon = clip, epsilon
        self.register_buffer("mean", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("var", torch.ones(dim, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(1e-4, dtype=torch.float64))

    @torch.no_grad()
    def update(self, batch: torch.Tensor) -> None:
        batch = batch.to(self.mean).reshape(-1, self.mean.shape[0])
        n = batch.shape[0]
        delta = batch.mean(0) - self.mean
        total = self.count + n
        self.mean += delta * n / total
        spread = self.var * self.count + batch.var(0, unbiased=False) * n
        self.var.copy_((spread + delta**2 * self.count * n / total) / total)
        self.count.copy_(total)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scaled = (x - self.mean.to(x)) / torch.sqrt(self.var.to(x) + self.epsilon)
        return scaled.clamp(-self.clip, self.clip)


class CategoricalPolicy(nn.Module):
    """π(a|s) over `n` discrete actions."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.net = mlp(obs_dim, hidden, n_actions, out_gain=0.01)

    def distribution(self, features: torch.Tensor) -> Distribution:
        return Categorical(logits=self.net(features))

    def log_prob(self, dist: Distribution, actions: torch.Tensor) -> torch.Tensor:
        return dist.log_prob(actions.long())

    def sample(self, dist: Distribution, deterministic: bool,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """The mode, or a sample drawn from `generator` (as `Categorical.sample` draws)."""
        assert isinstance(dist, Categorical)
        if deterministic:
            return dist.probs.argmax(-1)
        probs = dist.probs.reshape(-1, dist.probs.shape[-1])
        return torch.multinomial(probs, 1, True, generator=generator).T.reshape(dist.batch_shape)

    def to_env(self, actions: torch.Tensor) -> np.ndarray:
        return actions.cpu().numpy().astype(np.int64)

    def entropy(self, dist: Distribution) -> torch.Tensor:
        return dist.entropy()


class GaussianPolicy(nn.Module):
    """Diagonal Gaussian π(a|s) for a bounded Box (see the module docstring for the options)."""

    low: torch.Tensor
    high: torch.Tensor

    def __init__(
        self, obs_dim: int, space: spaces.Box, hidden: Sequence[int], *,
        log_std: str = "state_independent", squash: str = "clip", init_log_std: float = 0.0,
    ) -> None:
        super().__init__()
        if log_std not in ("state_independent", "learned"):
            raise ValueError(f"log_std must be 'state_independent' or 'learned', got '{log_std}'")
        if squash not in ("clip", "tanh"):
            raise ValueError(f"squash must be 'clip' or 'tanh', got '{squash}'")
        self.action_shape = space.shape
        dim = int(np.prod(space.shape))
        self.squash, self.learned_std = squash, log_std == "learned"
        self.net = mlp(obs_dim, hidden, dim * (2 if self.learned_std else 1), out_gain=0.01)
        if not self.learned_std:
            self.log_std = nn.Parameter(torch.full((dim,), float(init_log_std)))
        low = torch.as_tensor(np.asarray(space.low, dtype=np.float32).reshape(-1))
        high = torch.as_tensor(np.asarray(space.high, dtype=np.float32).reshape(-1))
        self.register_buffer("low", low)
        self.register_buffer("high", high)

    def distribution(self, features: torch.Tensor) -> Distribution:
        out = self.net(features)
        if self.learned_std:
            mean, log_std = out.chunk(2, dim=-1)
            log_std = log_std.clamp(-5.0, 2.0)
        else:
            mean, log_std = out, self.log_std.expand_as(out)
        return Independent(Normal(mean, log_std.exp()), 1)

    def _scale(self, unit: torch.Tensor) -> torch.Tensor:
        return self.low + (unit + 1.0) * 0.5 * (self.high - self.low)

    def sample(self, dist: Distribution, deterministic: bool,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """The raw (pre-squash) mean or sample (drawn from `generator`, as `Normal.sample`
        draws); `to_env` maps it into the action box."""
        if deterministic:
            return dist.mean
        assert isinstance(dist, Independent) and isinstance(dist.base_dist, Normal)
        with torch.no_grad():
            return torch.normal(dist.base_dist.loc, dist.base_dist.scale, generator=generator)

    def log_prob(self, dist: Distribution, raw: torch.Tensor) -> torch.Tensor:
        log_prob = dist.log_prob(raw)
        if self.squash == "tanh":  # log|d tanh(u)/du| = log(1 - tanh(u)^2), stably
            correction = 2.0 * (np.log(2.0) - raw - nn.functional.softplus(-2.0 * raw))
            log_prob = log_prob - correction.sum(-1)
        return log_prob

    def entropy(self, dist: Distribution) -> torch.Tensor:
        """Entropy of the Gaussian before squashing (a regulariser, not the exact entropy)."""
        return dist.entropy()

    def to_env(self, raw: torch.Tensor) -> np.ndarray:
        if self.squash == "tanh":
            action = self._scale(torch.tanh(raw))
        else:
            action = torch.maximum(torch.minimum(raw, self.high), self.low)
        return action.reshape(-1, *self.action_shape).cpu().numpy().astype(np.float32)


def build_policy(
    obs_dim: int, action_space: spaces.Space, hidden: Sequence[int], *,
    log_std: str = "state_independent", squash: str = "clip", init_log_std: float = 0.0,
) -> CategoricalPolicy | GaussianPolicy:
    """The right policy head for `action_space` (Discrete or bounded Box)."""
    if isinstance(action_space, spaces.Discrete):
        if int(action_space.start) != 0:
            raise TypeError("Discrete action spaces must start at 0 for gmrl's policy gradients")
        return CategoricalPolicy(obs_dim, int(action_space.n), hidden)
    if isinstance(action_space, spaces.Box):
        if not (np.all(np.isfinite(action_space.low)) and np.all(np.isfinite(action_space.high))):
            raise TypeError(f"action Box must be bounded, got {action_space}")
        return GaussianPolicy(
            obs_dim, action_space, hidden, log_std=log_std, squash=squash,
            init_log_std=init_log_std,
        )
    raise TypeError(f"action space {action_space} is not supported (Discrete or Box)")
