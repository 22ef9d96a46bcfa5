"""Saving where a Gymnasium env is mid-episode, without pickling it: record, then replay.

An env's internal state (CartPole's cart, a time limit's step count, a Monitor's running
return) has no general save format, and pickling it is exactly what checkpoints must not do.
But a Gymnasium env is a deterministic function of its seed, its random generator and the
actions it is given. So `EpisodeRecorder`, the outermost wrapper of each training env, notes how
the current episode began (the `reset` seed, or the env generator's state just before an unseeded
reset) and every action since. `state()` returns that as tensors and JSON; `restore(state)`
brings a fresh copy of the env to the same point by resetting it the same way and replaying the
actions (at most one episode of steps), so a resumed run continues exactly where it stopped.

```python
env = EpisodeRecorder(make_env("CartPole-v1"))
...                                   # reset / step as usual
saved = env.state()                   # into a checkpoint (no pickle)
obs = EpisodeRecorder(make_env("CartPole-v1")).restore(saved)   # same env state, same obs
```

What holds: envs whose dynamics depend only on their seed, their `np_random` and the actions
(every Gymnasium env). An env that draws from another source (the global NumPy generator, the
clock, a server) cannot be replayed; `restore` then returns an observation different from the
saved one, which callers can check (`same_observation`).
"""

from typing import Any

import gymnasium as gym
import numpy as np
import torch


def generator_state(generator: np.random.Generator | np.random.RandomState) -> dict[str, Any]:
    """A NumPy Generator's bit-generator state (JSON values: its integers can exceed 64 bits).

    A legacy `RandomState` (what dm_control's tasks draw from, through shimmy) is saved too,
    marked `legacy`, with its Mersenne-Twister key as a list of ints."""
    if isinstance(generator, np.random.RandomState):
        state = generator.get_state(legacy=False)
        inner = state["state"]
        return {**state, "state": {"key": [int(v) for v in inner["key"]],
                                   "pos": int(inner["pos"])}, "legacy": True}
    return dict(generator.bit_generator.state)


def generator_from_state(state: dict[str, Any]) -> np.random.Generator:
    """A NumPy Generator positioned exactly at `state` (from `generator_state`)."""
    bit_generator = getattr(np.random, str(state["bit_generator"]))()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


def legacy_from_state(state: dict[str, Any]) -> np.random.RandomState:
    """A legacy RandomState positioned exactly at a `legacy` state from `generator_state`."""
    legacy = np.random.RandomState()
    inner = state["state"]
    legacy.set_state({**{k: v for k, v in state.items() if k != "legacy"},
                      "state": {"key": np.asarray(inner["key"], np.uint32),
                                "pos": int(inner["pos"])}})
    return legacy


def env_rng_state(env: gym.Env) -> dict[str, Any]:
    """The state of the env's own generator (`env.unwrapped.np_random`)."""
    return generator_state(env.unwrapped.np_random)


def set_env_rng_state(env: gym.Env, state: dict[str, Any]) -> None:
    """Position the env's own generator at `state` (from `env_rng_state`)."""
    if state.get("legacy"):  # the env's own setter takes it (shimmy's dm_control envs)
        env.unwrapped.np_random = legacy_from_state(state)  # type: ignore[assignment]
    else:
        env.unwrapped.np_random = generator_from_state(state)


def space_rng_state(space: gym.Space) -> dict[str, Any]:
    """The state of a space's sampling generator (`space.sample()`, e.g. DQN's exploration)."""
    return generator_state(space.np_random)


def set_space_rng_state(space: gym.Space, state: dict[str, Any]) -> None:
    space._np_random = generator_from_state(state)  # gymnasium has no setter


def same_observation(a: Any, b: Any) -> bool:
    """Exact equality of two observations (arrays, or dicts of arrays)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(
            same_observation(a[k], b[k]) for k in a
        )
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


class EpisodeRecorder(gym.Wrapper):
    """Records the current episode's start and actions so the env state can be rebuilt."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._seed: int | None = None
        self._rng: dict[str, Any] | None = None
        self._actions: list[np.ndarray] = []

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        self._seed = None if seed is None else int(seed)
        self._rng = None if seed is not None else env_rng_state(self.env)
        self._actions = []
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        self._actions.append(np.array(action, copy=True))
        return self.env.step(action)

    def state(self) -> dict[str, Any]:
        """How the episode began and the actions since (tensors and JSON values)."""
        actions = torch.from_numpy(np.stack(self._actions)) if self._actions else torch.zeros(0)
        return {"seed": self._seed, "rng": self._rng, "actions": actions,
                "steps": len(self._actions)}

    def restore(self, state: dict[str, Any]) -> Any:
        """Reset as the saved episode began, replay its actions; returns the last observation."""
        if state["rng"] is not None:
            set_env_rng_state(self.env, state["rng"])
        obs, _ = self.reset(seed=state["seed"])
        actions = state["actions"].numpy()
        for index in range(int(state["steps"])):
            obs, *_ = self.step(actions[index])
        return obs
