"""Stable-Baselines3 agents built from gmrl configs, reporting into gmrl run directories.

`SB3Agent` puts them on gmrl's agent contract (learn / predict / save / load, no pickle).
"""

from gmrl.rl.params import SB3_ALGORITHMS, algorithm_class
from gmrl.rl.sb3.agent import SB3Agent
from gmrl.rl.sb3.callbacks import RunDirCallback
from gmrl.rl.sb3.factory import (
    SB3AgentSpec,
    check_sb3_params,
    load_sb3_agent,
    load_sb3_weights,
    make_sb3_agent,
    make_sb3_vec_env,
    save_sb3_agent,
    save_sb3_weights,
    validate_sb3_params,
)
from gmrl.rl.sb3.state import load_sb3_state, restore_learn_state, sb3_state

__all__ = [
    "SB3_ALGORITHMS",
    "RunDirCallback",
    "SB3Agent",
    "SB3AgentSpec",
    "algorithm_class",
    "check_sb3_params",
    "load_sb3_agent",
    "load_sb3_state",
    "load_sb3_weights",
    "make_sb3_agent",
    "make_sb3_vec_env",
    "restore_learn_state",
    "save_sb3_agent",
    "save_sb3_weights",
    "sb3_state",
    "validate_sb3_params",
]
