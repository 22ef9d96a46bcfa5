"""What `gmrl init` writes: a commented starter config and a skeleton of a user's own env.

The starter config is a validated recipe config written back as YAML with each key's
description (from the config model's `Field(description=...)`) as a comment above it, so a
newcomer reads what every key does in the one file they edit. The env skeleton is a complete,
working `gymnasium.Env` to rewrite: `gmrl run gmrl.yaml env.id=myenv:MyEnv` trains on it as is.
"""

import textwrap
from typing import Any

import yaml
from pydantic import BaseModel

WIDTH = 100


def _scalar(value: Any) -> str:
    """One YAML value on one line (lists and mappings in flow style)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False)
    return text.strip().removesuffix("...").strip()


def commented_yaml(config: BaseModel, indent: int = 0, active: bool = True) -> str:
    """`config` as YAML, every key preceded by its description as a comment.

    Keys the config sets are written as they are; keys left at their default are written
    commented out (`# key: default`), so the file reads back as the same config and a user sees
    every key there is (a test checks it for every recipe's starter).
    """
    pad = " " * indent
    lines: list[str] = []
    fields = type(config).model_fields
    own = vars(type(config)).get("__annotations__", {})
    # what runs it first, then the keys its own class declares (env, budget), then inherited ones
    for name in sorted(fields, key=lambda name: (name != "recipe", name not in own)):
        value = getattr(config, name)
        description = fields[name].description
        if description:
            lines.extend(textwrap.wrap(description, WIDTH - indent - 2,
                                       initial_indent=f"{pad}# ", subsequent_indent=f"{pad}# "))
        is_set = active and name in config.model_fields_set
        off = "" if is_set else "# "
        if isinstance(value, BaseModel):
            empty = " {}" if is_set and not value.model_fields_set else ""  # not `name: null`
            lines.append(f"{pad}{off}{name}:{empty}")
            lines.append(commented_yaml(value, indent + 2, is_set))
        else:
            lines.append(f"{pad}{off}{name}: {_scalar(_plain(value))}")
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    """JSON-like Python values (pydantic models and tuples inside lists and dicts too)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


ENV_SKELETON = '''"""Your own environment: `gmrl run gmrl.yaml env.id=myenv:MyEnv` trains on it
(`env=myenv:MyEnv` where the config's env is one line, as in the rl recipe's).

A gymnasium.Env: declare the spaces, return (observation, info) from reset and
(observation, reward, terminated, truncated, info) from step. gmrl runs gymnasium's check_env
on it first, and checks every observation and reward at every step (finite, right shape, inside
the observation space): a fault ends the run with one line naming the step and the value, after
a checkpoint (on_env_error: reset in the config cuts such episodes short instead).

This one is a placeholder to rewrite: a point on a line that must reach +1 from 0.
"""

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class MyEnv(gym.Env):
    """Move a point left or right along [-1, 1]; reaching +1 ends the episode (reward +1 there,
    -0.01 for every other step)."""

    def __init__(self, step_size: float = 0.1, max_steps: int = 200) -> None:
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)  # 0: left, 1: right
        self.step_size, self.max_steps = step_size, max_steps
        self.position, self.steps = 0.0, 0

    def _observation(self) -> np.ndarray:
        return np.array([self.position, self.steps / self.max_steps], dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)  # seeds self.np_random: draw every random number from it
        self.position = float(self.np_random.uniform(-0.5, 0.5))
        self.steps = 0
        return self._observation(), {}

    def step(self, action):
        move = self.step_size if int(action) == 1 else -self.step_size
        self.position = float(np.clip(self.position + move, -1.0, 1.0))
        self.steps += 1
        terminated = self.position >= 1.0
        truncated = self.steps >= self.max_steps
        reward = 1.0 if terminated else -0.01
        return self._observation(), reward, terminated, truncated, {}
'''
