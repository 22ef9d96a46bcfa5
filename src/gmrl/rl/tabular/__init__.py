"""Tabular TD control (Q-learning, SARSA) with step-size and exploration schedules.

`QLearningAgent` / `SarsaAgent` (`gmrl.rl.tabular.agent`, imported on first use: they bring
torch) put them on gmrl's agent contract.
"""

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
    "QLearningAgent",
    "SarsaAgent",
    "Schedule",
    "TDLearner",
    "TabularAgent",
    "TabularResult",
    "as_schedule",
    "discrete_sizes",
    "q_learning",
    "sarsa",
]


def __getattr__(name: str) -> object:
    if name in ("QLearningAgent", "SarsaAgent", "TabularAgent"):
        from gmrl.rl.tabular import agent

        return getattr(agent, name)
    raise AttributeError(name)
