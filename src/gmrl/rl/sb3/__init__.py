"""Stable-Baselines3 agents built from gmrl configs, reporting into gmrl run directories."""

from gmrl.rl.sb3.callbacks import RunDirCallback
from gmrl.rl.sb3.factory import (
    SB3_ALGORITHMS,
    algorithm_class,
    check_sb3_params,
    load_sb3_weights,
    make_sb3_agent,
    save_sb3_weights,
)

__all__ = [
    "SB3_ALGORITHMS",
    "RunDirCallback",
    "algorithm_class",
    "check_sb3_params",
    "load_sb3_weights",
    "make_sb3_agent",
    "save_sb3_weights",
]
