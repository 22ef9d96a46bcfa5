"""Per-episode schedules for step sizes and exploration rates.

A schedule maps the episode index to a value. Every schedule can also produce all of its values
at once (`values(n)`), so a learner computes its whole schedule as one array before training
instead of calling back into Python each episode. Plain floats are accepted wherever a schedule
is, and mean a constant (`as_schedule`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from gmrl.core.errors import ConfigError


@runtime_checkable
class Schedule(Protocol):
    """A value per episode: `values(n)[k]` is the value used in episode `k` of `n`."""

    def values(self, n: int) -> np.ndarray:
        """The value for each of `n` episodes, shape `(n,)`, float64."""
        ...


@dataclass(frozen=True)
class Constant:
    """The same value in every episode."""

    value: float

    def values(self, n: int) -> np.ndarray:
        return np.full(n, float(self.value))


@dataclass(frozen=True)
class Linear:
    """From `start` to `end` in a straight line over the first `fraction` of the episodes.

    Episode `k` of `n` gets `start + (end - start) * min(k / (fraction * (n - 1)), 1)`: with
    `fraction=1` the last episode uses `end`; with `fraction=0.5` the second half does, whatever
    the total, so a config keeps its shape when the budget changes.
    """

    start: float
    end: float
    fraction: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction <= 1.0:
            raise ConfigError(f"Linear schedule fraction must be in (0, 1], got {self.fraction}")

    def values(self, n: int) -> np.ndarray:
        ramp = max(self.fraction * (n - 1), 1e-12)
        progress = np.minimum(np.arange(n) / ramp, 1.0)
        return self.start + (self.end - self.start) * progress


@dataclass(frozen=True)
class Exponential:
    """`end + (start - end) * decay**k` in episode `k`: geometric decay towards a floor `end`."""

    start: float
    end: float = 0.0
    decay: float = 0.999

    def __post_init__(self) -> None:
        if not 0.0 < self.decay <= 1.0:
            raise ConfigError(f"Exponential schedule decay must be in (0, 1], got {self.decay}")

    def values(self, n: int) -> np.ndarray:
        return self.end + (self.start - self.end) * self.decay ** np.arange(n)


def as_schedule(value: float | Schedule) -> Schedule:
    """A schedule from a schedule or a number (a number means `Constant(number)`)."""
    if isinstance(value, Schedule):
        return value
    if isinstance(value, int | float | np.floating | np.integer):
        return Constant(float(value))
    raise ConfigError(
        f"expected a number or a schedule (Constant/Linear/Exponential), got {value!r}"
    )


def schedule_values(
    value: float | Schedule, n: int, *, name: str, low: float, high: float
) -> np.ndarray:
    """All `n` values of a schedule, checked to lie in `[low, high]` (one-line error otherwise)."""
    values = np.asarray(as_schedule(value).values(n), dtype=np.float64)
    if values.shape != (n,):
        raise ConfigError(f"{name} schedule returned shape {values.shape}, expected ({n},)")
    if n and (values.min() < low or values.max() > high):
        raise ConfigError(
            f"{name} must stay in [{low}, {high}], but its schedule ranges over "
            f"[{values.min():.4g}, {values.max():.4g}]"
        )
    return values
