"""The `WorldModel` contract: a learned, stochastic p(s', r, done | s, a), batched.

Everything above it (DreamEnv, planners, the model-based agent loop) is written against this
class, so the Gaussian ensemble for vector states and the VAE + MDN-RNN for pixels are
interchangeable. Observations and actions are float tensors `(batch, ...)`; discrete actions are
passed as integer indices of shape `(batch,)`.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

# A transition batch: obs, action, reward, next_obs, terminated, truncated (dict of tensors).
Transitions = dict[str, torch.Tensor]
# Known reward / termination functions a user may pass instead of learning them.
RewardFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
TerminationFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


class WorldModel(nn.Module, ABC):
    """A generative model of the environment that planners and DreamEnv step through."""

    @abstractmethod
    def fit(self, transitions: Transitions, **kwargs: Any) -> dict[str, float]:
        """Fit (or continue fitting) to real transitions; returns metrics incl. validation error."""

    @abstractmethod
    def step(
        self, obs: torch.Tensor, action: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample (next_obs, reward, terminated) for a batch of (obs, action)."""

    def uncertainty(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Per-sample epistemic uncertainty (e.g. ensemble disagreement); zeros if unknown."""
        return torch.zeros(obs.shape[0], device=obs.device)
