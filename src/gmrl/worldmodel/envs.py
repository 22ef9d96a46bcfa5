"""Make the real environment from a Gymnasium id or a `"module:Class"` path, with clear errors.

World-model agents need vector observations (a `Box`) and `Box` or `Discrete` actions; anything
else is refused up front with one line naming the problem.
"""

from collections.abc import Callable
from typing import Any

import gymnasium as gym
from gymnasium import spaces

from gmrl.core.errors import EnvError
from gmrl.rl.envs import make_env


def env_factory(
    env_id: str, kwargs: dict[str, Any] | None = None, max_episode_steps: int | None = None
) -> Callable[[], gym.Env]:
    """A zero-argument builder for the env `env_id` (registered id or `"module:Class"`).

    Creation and its one-line errors are the RL zoo's (`gmrl.rl.envs.make_env`); the env is
    built once here so a bad id or a user env failing `check_env` is refused before any work.
    """
    kwargs = dict(kwargs or {})
    registered = ":" not in env_id or env_id in gym.registry
    if registered and max_episode_steps is not None:
        kwargs["max_episode_steps"] = max_episode_steps
    make_env(env_id, **kwargs).close()

    def make() -> gym.Env:
        env = make_env(env_id, check=False, **kwargs)
        if not registered and max_episode_steps is not None:
            env = gym.wrappers.TimeLimit(env, max_episode_steps)
        return env

    return make


def check_world_model_env(env: gym.Env, env_id: str) -> None:
    """Refuse envs a vector-state world model cannot handle, with the reason."""
    if not isinstance(env.observation_space, spaces.Box):
        raise EnvError(
            f"env '{env_id}' has {type(env.observation_space).__name__} observations: the "
            "ensemble world model needs a Box (vector) observation space"
        )
    if len(env.observation_space.shape) != 1:
        raise EnvError(
            f"env '{env_id}' has observations of shape {env.observation_space.shape}: flatten them "
            "(gymnasium.wrappers.FlattenObservation) or use the pixel world model"
        )
    if not isinstance(env.action_space, (spaces.Box, spaces.Discrete)):
        raise EnvError(
            f"env '{env_id}' has {type(env.action_space).__name__} actions: use Box or Discrete"
        )
