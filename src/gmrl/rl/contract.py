"""What the RL zoo's agents share to honour gmrl's agent contract (`gmrl.core.agent.Agent`).

- `env_source`: the Gymnasium id and keyword arguments an agent rebuilds its env copies from,
  given an id or an env made by `gymnasium.make` (its `spec`);
- `space_json` / `space_from_json`: an observation or action space as plain JSON (a saved
  agent's config.json records both, so a loaded agent knows what it acts on without an env);
- `check_env_spaces`: a one-line `EnvError` when the env given to `load` is not the one the
  agent was saved with;
- `saved_config` / `restore_weights`: a missing or malformed entry of a saved config, or
  tensors that do not fit the rebuilt networks, become one `CheckpointError` line.
"""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from gmrl.core.errors import CheckpointError, EnvError

T = TypeVar("T")


def env_source(
    env: str | gym.Env | None, env_kwargs: dict[str, Any] | None, who: str
) -> tuple[str, dict[str, Any]]:
    """`(env_id, env_kwargs)` for `make_env`: from an id, or from an env's `spec`.

    An env made by `gymnasium.make` carries its id and arguments (`spec.kwargs`, and a time limit
    other than the registered one as `max_episode_steps`); `env_kwargs` are added on top.
    """
    extra = dict(env_kwargs or {})
    if isinstance(env, str):
        return env, extra
    spec = getattr(env, "spec", None)
    if env is None or spec is None or not spec.id:
        what = "no env" if env is None else f"a {type(env).__name__} without a spec"
        raise EnvError(
            f"{who} got {what}: give a Gymnasium id ('CartPole-v1') or an env made by "
            "gymnasium.make (the agent makes its own copies of it)"
        )
    kwargs = dict(spec.kwargs or {})
    registered = gym.spec(spec.id).max_episode_steps if spec.id in gym.envs.registry else None
    if spec.max_episode_steps is not None and spec.max_episode_steps != registered:
        kwargs["max_episode_steps"] = int(spec.max_episode_steps)
    return str(spec.id), {**kwargs, **extra}


def space_json(space: gym.Space) -> dict[str, Any]:
    """A Discrete, Box, MultiDiscrete or MultiBinary space as JSON values."""
    if isinstance(space, spaces.Discrete):
        return {"kind": "discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.Box):
        return {"kind": "box", "low": space.low.tolist(), "high": space.high.tolist(),
                "shape": list(space.shape), "dtype": str(space.dtype)}
    if isinstance(space, spaces.MultiDiscrete):
        return {"kind": "multi_discrete", "nvec": space.nvec.tolist(), "dtype": str(space.dtype)}
    if isinstance(space, spaces.MultiBinary):
        return {"kind": "multi_binary", "n": np.asarray(space.n).tolist()}
    raise CheckpointError(
        f"cannot save an agent over a {type(space).__name__} space: gmrl's agent format records "
        "Discrete, Box, MultiDiscrete and MultiBinary spaces"
    )


def space_from_json(data: dict[str, Any]) -> gym.Space:
    """Inverse of `space_json`."""
    kind = data["kind"]
    if kind == "discrete":
        return spaces.Discrete(int(data["n"]), start=int(data.get("start", 0)))
    if kind == "box":
        dtype = np.dtype(data["dtype"])
        return spaces.Box(np.asarray(data["low"], dtype), np.asarray(data["high"], dtype),
                          shape=tuple(data["shape"]), dtype=dtype)
    if kind == "multi_discrete":
        return spaces.MultiDiscrete(np.asarray(data["nvec"]), dtype=np.dtype(data["dtype"]))
    if kind == "multi_binary":
        return spaces.MultiBinary(data["n"])
    raise ValueError(f"unknown space kind '{kind}'")


def check_env_spaces(env: Any, observation_space: gym.Space, action_space: gym.Space,
                     who: str) -> None:
    """Refuse an env whose spaces differ from the saved agent's, in one line."""
    if env is None:
        return
    if (space_json(env.observation_space) != space_json(observation_space)
            or space_json(env.action_space) != space_json(action_space)):
        raise EnvError(
            f"the env's spaces ({env.observation_space}, {env.action_space}) differ from the "
            f"saved {who} agent's ({observation_space}, {action_space}): give the env it was "
            "trained on"
        )


def json_ready(value: T, what: str) -> T:
    """`value` if it is plain JSON (what config.json can hold), else a one-line error."""
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(
            f"cannot save {what}: {exc} (config.json holds plain values; give names, e.g. "
            "activation_fn: tanh, rather than objects)"
        ) from exc
    return value


@contextmanager
def saved_config(who: str) -> Iterator[None]:
    """Turn a missing or malformed entry of a saved config into one `CheckpointError` line."""
    try:
        yield
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(
            f"saved {who} agent config is not usable ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}): save the agent again with this "
            "gmrl version"
        ) from exc


def restore_weights(who: str, restore: Callable[[], None]) -> None:
    """Run `restore()` (`load_state_dict` calls); a mismatch becomes one `CheckpointError`."""
    try:
        restore()
    except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"saved {who} weights do not fit the rebuilt agent ({first[:160]}): save the agent "
            "again with this gmrl version"
        ) from exc

