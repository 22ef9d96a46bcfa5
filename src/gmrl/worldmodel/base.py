"""The `WorldModel` contract: a learned, stochastic p(s', r, done | s, a), batched.

Everything above it (DreamEnv, planners, the model-based agent loop) is written against this
class, so the Gaussian ensemble for vector states and the VAE + MDN-RNN for pixels are
interchangeable. Observations and actions are float tensors `(batch, ...)`; discrete actions are
passed as integer indices of shape `(batch,)`.

Persistence goes through `gmrl.core.checkpoint`'s one artifact format: `save(path)` writes the
constructor arguments (`init_args`, JSON) and the training state (weights and optimizer state,
`training_state`) as safetensors; `WorldModel.load(path)` rebuilds whichever subclass wrote the
file. Run checkpoints use the same `training_state` / `load_training_state` pair, so a resumed
run continues with the optimizer's moments, not a cold Adam.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import torch
from torch import nn

from gmrl.core.checkpoint import load_artifact, restore_or_explain, save_artifact
from gmrl.rl.transitions import TransitionBatch

# A transition batch: obs, action, reward, next_obs, terminated, truncated (dict of tensors).
# Known reward / termination functions a user may pass instead of learning them.
RewardFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
TerminationFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

ARTIFACT_KIND = "world_model"
W = TypeVar("W", bound="WorldModel")


class WorldModel(nn.Module, ABC):
    """A generative model of the environment that planners and DreamEnv step through."""

    @abstractmethod
    def fit(
        self, transitions: TransitionBatch, *, generator: torch.Generator | None = None
    ) -> dict[str, float]:
        """Fit (or continue fitting) to real transitions; returns metrics incl. validation error.

        Training budgets (epochs, updates) come from the model's config; subclasses may add
        explicit keyword overrides of their own.
        """

    @abstractmethod
    def step(
        self, obs: torch.Tensor, action: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample (next_obs, reward, terminated) for a batch of (obs, action)."""

    def uncertainty(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Per-sample epistemic uncertainty (e.g. ensemble disagreement); zeros if unknown."""
        return torch.zeros(obs.shape[0], device=obs.device)

    def disagreement(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """The same in scale-free (normalised) units, the planners' exploration signal; zeros
        if unknown (then an exploration bonus has no effect)."""
        return torch.zeros(obs.shape[0], device=obs.device)

    # ------------------------------------------------------------------ shape and placement
    @property
    def ensemble_size(self) -> int:
        """How many independent hypotheses `step` samples from (1 for a single model)."""
        return 1

    @property
    def device(self) -> torch.device:
        """Where the model's parameters live (inputs are moved there by `step`)."""
        for tensor in (*self.parameters(), *self.buffers()):
            return tensor.device
        return torch.device("cpu")

    # ------------------------------------------------------------------ persistence
    @abstractmethod
    def init_args(self) -> dict[str, Any]:
        """JSON constructor arguments that rebuild this model's architecture (see `build`)."""

    @classmethod
    def build(cls: type[W], init: dict[str, Any], **extra: Any) -> W:
        """Rebuild from `init_args()` output (subclasses turn JSON back into typed values)."""
        return cls(**init, **extra)

    def training_state(self) -> dict[str, Any]:
        """Weights plus optimizer state: what a run checkpoint needs to continue exactly."""
        return {"weights": dict(self.state_dict()), "optimizers": self.optimizer_states()}

    def load_training_state(self, state: dict[str, Any]) -> None:
        """Inverse of `training_state`."""
        self.load_state_dict(state["weights"])
        self.load_optimizer_states(state.get("optimizers") or {})

    def optimizer_states(self) -> dict[str, Any]:
        """State dicts of the model's optimizers, by name (none by default)."""
        return {}

    def load_optimizer_states(self, states: dict[str, Any]) -> None:
        """Inverse of `optimizer_states`."""

    def save(self, path: str | Path) -> Path:
        """Save architecture (JSON) and training state (safetensors) as one artifact file."""
        return save_artifact(
            path, kind=ARTIFACT_KIND, cls=type(self), init=self.init_args(),
            state=self.training_state(),
        )

    @classmethod
    def load(
        cls: type[W], path: str | Path, *, map_location: str | torch.device = "cpu", **extra: Any
    ) -> W:
        """Rebuild a model saved by `save` (any gmrl world model, or `cls` and its subclasses).

        `extra` goes to the constructor, e.g. the reward function of an ensemble saved with a
        function of the user's own (only gmrl's functions are recorded by name in the file).
        Bad files and mismatches are one-line `CheckpointError`s.
        """
        artifact = load_artifact(path, kind=ARTIFACT_KIND, base=cls)
        model_class = cast(type[W], artifact.cls)
        model = model_class.build(artifact.init, **extra).to(map_location)
        restore_or_explain(
            path, f"a {model_class.__name__}", lambda: model.load_training_state(artifact.state)
        )
        return model


def reward_scale(rewards: Any) -> float:
    """The spread of the real rewards, the unit of the planners' exploration bonus (v1's
    and v2's).

    Their std when they vary; for a constant reward (CartPole's +1, or 0 before a sparse task's
    first success) its magnitude, floored at 0.01 so the bonus never vanishes entirely.
    """
    r = np.asarray(rewards, dtype=np.float64).reshape(-1)
    if r.size == 0:
        return 1.0
    std = float(r.std())
    return max(std if std > 1e-8 else float(np.abs(r).mean()), 1e-2)
