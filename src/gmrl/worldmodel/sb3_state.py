"""An SB3 agent's full training state as nested tensors, for exact resume of dream training.

SB3's own `save` pickles; gmrl's run checkpoints are safetensors. This module reads what SB3
itself names as its torch state (`_get_torch_save_params`: the policy, every optimizer, SAC's
entropy coefficient) plus the counters that steer training (timesteps, gradient updates, DQN's
target-update clock and exploration rate), the filled part of an off-policy replay buffer and
the episode-statistics buffer, and puts them back into a freshly built agent of the same
configuration.

What is not restored: the agent's last observation (callers restart rollouts from a reset at
every `learn`, as the model-based agent does) and stateful action noise (Ornstein-Uhlenbeck).
"""

from collections import deque
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.utils import get_device

_COUNTERS = ("num_timesteps", "_n_updates", "_n_calls", "_episode_num", "exploration_rate",
             "_current_progress_remaining")
_BUFFER_ARRAYS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")


def _get(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def sb3_training_state(agent: BaseAlgorithm) -> dict[str, Any]:
    """Policy, optimizers, counters, replay buffer and episode statistics of `agent`."""
    modules, variables = agent._get_torch_save_params()
    state: dict[str, Any] = {
        "modules": {name: _get(agent, name).state_dict() for name in modules},
        "variables": {name: _get(agent, name).detach().clone() for name in variables},
        "counters": {k: float(getattr(agent, k)) for k in _COUNTERS if hasattr(agent, k)},
        "episodes": [[float(e["r"]), float(e["l"])] for e in agent.ep_info_buffer or []],
    }
    buffer = getattr(agent, "replay_buffer", None)
    if buffer is not None:
        filled = buffer.buffer_size if buffer.full else buffer.pos
        state["buffer"] = {
            "pos": int(buffer.pos), "full": bool(buffer.full),
            **{name: torch.from_numpy(np.ascontiguousarray(getattr(buffer, name)[:filled]))
               for name in _BUFFER_ARRAYS if getattr(buffer, name, None) is not None},
        }
    return state


def load_sb3_training_state(agent: BaseAlgorithm, state: dict[str, Any]) -> None:
    """Inverse of `sb3_training_state`, into an agent built with the same configuration."""
    for name, module_state in state["modules"].items():
        _get(agent, name).load_state_dict(module_state)
    for name, value in state["variables"].items():
        with torch.no_grad():
            _get(agent, name).copy_(value.to(get_device(agent.device)))
    for name, value in state["counters"].items():
        current = getattr(agent, name)
        setattr(agent, name, type(current)(value))
    episodes = [{"r": r, "l": int(length)} for r, length in state["episodes"]]
    agent.ep_info_buffer = deque(episodes, maxlen=agent._stats_window_size)
    agent.ep_success_buffer = deque(maxlen=agent._stats_window_size)
    buffer = getattr(agent, "replay_buffer", None)
    if buffer is not None and "buffer" in state:
        saved = state["buffer"]
        for name in _BUFFER_ARRAYS:
            if name in saved:
                target = getattr(buffer, name)
                target[: len(saved[name])] = saved[name].numpy()
        buffer.pos, buffer.full = int(saved["pos"]), bool(saved["full"])
