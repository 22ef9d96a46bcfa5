"""Tabular TD control (Q-learning, SARSA) with step-size and exploration schedules."""

from gmrl.rl.tabular.schedules import Constant, Exponential, Linear, Schedule, as_schedule
from gmrl.rl.tabular.td import (
    EpisodeCallback,
    EpisodeStats,
    TabularResult,
    TDLearner,
    discrete_sizes,
    q_learning,
    sarsa,
)

__all__ = [
    "Constant",
    "EpisodeCallback",
    "EpisodeStats",
    "Exponential",
    "Linear",
    "Schedule",
    "TDLearner",
    "TabularResult",
    "as_schedule",
    "discrete_sizes",
    "q_learning",
    "sarsa",
]
