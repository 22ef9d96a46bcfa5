"""The small numerical parts of the latent agent: symlog, two-hot regression, SimNorm, MLPs.

- **symlog** (DreamerV3): `sign(x) log(1 + |x|)` squashes large magnitudes and keeps small ones
  almost linear, so observations and returns of any scale land in a range networks handle.
- **two-hot** (DreamerV3, TD-MPC2): a scalar target is spread over its two nearest bins of a
  fixed grid in symlog space and learned with cross-entropy; the prediction is the expectation.
  Gradients do not scale with the target's magnitude: rewards x1000 train like rewards x1.
- **SimNorm** (TD-MPC2): the latent is split into groups of `simnorm_dim` and each group is a
  softmax, which keeps latents bounded and the dynamics' targets well conditioned.
"""

import itertools

import torch
import torch.nn.functional as F
from torch import nn


def symlog(x: torch.Tensor) -> torch.Tensor:
    """sign(x) * log(1 + |x|)."""
    return torch.sign(x) * torch.log1p(x.abs())


def symexp(x: torch.Tensor) -> torch.Tensor:
    """The inverse of `symlog`."""
    return torch.sign(x) * torch.expm1(x.abs())


class TwoHot:
    """Two-hot codes of scalars on `bins` evenly spaced points of [vmin, vmax], symlog space."""

    def __init__(self, bins: int, vmin: float, vmax: float) -> None:
        self.bins, self.vmin, self.vmax = bins, vmin, vmax
        self.width = (vmax - vmin) / (bins - 1)
        self._support: torch.Tensor | None = None

    def support(self, like: torch.Tensor) -> torch.Tensor:
        """The bin centres (symlog space), on `like`'s device and dtype."""
        if self._support is None or self._support.device != like.device:
            self._support = torch.linspace(self.vmin, self.vmax, self.bins, device=like.device)
        return self._support.to(like.dtype)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Scalars (any shape) -> soft targets (..., bins) summing to 1."""
        position = ((symlog(x).clamp(self.vmin, self.vmax) - self.vmin) / self.width)
        low = position.floor().clamp(max=self.bins - 1)
        upper_weight = position - low
        target = torch.zeros(*x.shape, self.bins, device=x.device, dtype=x.dtype)
        target.scatter_(-1, low.long().unsqueeze(-1), (1 - upper_weight).unsqueeze(-1))
        high = (low + 1).clamp(max=self.bins - 1).long().unsqueeze(-1)
        target.scatter_add_(-1, high, upper_weight.unsqueeze(-1))
        return target

    def decode(self, logits: torch.Tensor) -> torch.Tensor:
        """Logits (..., bins) -> the expected scalar (in the original space)."""
        return symexp((F.softmax(logits, dim=-1) * self.support(logits)).sum(-1))

    def loss(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Cross-entropy between logits (..., bins) and the two-hot encoding of `x` (...)."""
        return -(self.encode(x) * F.log_softmax(logits, dim=-1)).sum(-1)


class SimNorm(nn.Module):
    """Softmax over consecutive groups of `group` features."""

    def __init__(self, group: int) -> None:
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        return F.softmax(x.view(*shape[:-1], -1, self.group), dim=-1).view(shape)


def mlp(
    sizes: list[int], out_act: nn.Module | None = None, dropout: float = 0.0
) -> nn.Sequential:
    """Linear -> LayerNorm -> SiLU hidden layers, then a plain linear output.

    TD-MPC2's block uses Mish; SiLU is as smooth and self-gated and five times faster on a CPU
    with this torch build (6.2 vs 1.2 ms forward + backward for a 3840 x 128 batch, measured).

    `dropout` applies after the first hidden layer (TD-MPC2's Q-functions use a little).
    """
    layers: list[nn.Module] = []
    for index, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes[:-1])):
        layers += [nn.Linear(fan_in, fan_out), nn.LayerNorm(fan_out), nn.SiLU()]
        if dropout > 0 and index == 0:
            layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    if out_act is not None:
        layers.append(out_act)
    return nn.Sequential(*layers)
