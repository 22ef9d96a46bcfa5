"""Built-in sequence rewards for tuning demos, chosen by name in a config.

Each factory returns `reward_fn(tokens (B, T)) -> (B,)` float rewards in [0, 1]. They are simple
on purpose: a tuner should raise them quickly, and their failure modes (a sequence of one repeated
token maximises `token_frequency`) make mode collapse and the KL penalty's effect easy to see.
"""

import inspect
from collections.abc import Callable
from typing import Any

import torch

from gmrl.core.errors import ConfigError

RewardFn = Callable[[torch.Tensor], torch.Tensor]


def token_frequency(token: int = 0) -> RewardFn:
    """Fraction of positions holding `token`."""

    def reward(tokens: torch.Tensor) -> torch.Tensor:
        return (tokens == token).float().mean(dim=1)

    return reward


def no_repeat() -> RewardFn:
    """Fraction of adjacent pairs whose tokens differ (penalises stuttering)."""

    def reward(tokens: torch.Tensor) -> torch.Tensor:
        return (tokens[:, 1:] != tokens[:, :-1]).float().mean(dim=1)

    return reward


def ascending() -> RewardFn:
    """Fraction of adjacent pairs that strictly increase."""

    def reward(tokens: torch.Tensor) -> torch.Tensor:
        return (tokens[:, 1:] > tokens[:, :-1]).float().mean(dim=1)

    return reward


REWARDS: dict[str, Callable[..., RewardFn]] = {
    "token_frequency": token_frequency,
    "no_repeat": no_repeat,
    "ascending": ascending,
}


def build_reward(name: str, vocab_size: int | None = None, **params: Any) -> RewardFn:
    """The named reward with `params`; unknown names or parameters are one-line `ConfigError`s."""
    if name not in REWARDS:
        raise ConfigError(f"unknown reward '{name}' (available: {', '.join(REWARDS)})")
    factory = REWARDS[name]
    allowed = list(inspect.signature(factory).parameters)
    unknown = [key for key in params if key not in allowed]
    if unknown:
        raise ConfigError(
            f"reward '{name}' takes no parameter '{unknown[0]}' "
            f"(allowed: {', '.join(allowed) or 'none'})"
        )
    token = params.get("token")
    if vocab_size is not None and token is not None and not 0 <= int(token) < vocab_size:
        raise ConfigError(
            f"reward '{name}': token {token} is outside the vocabulary [0, {vocab_size})"
        )
    return factory(**params)
