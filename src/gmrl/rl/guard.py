"""The boundary with a user's env: every observation, reward and action checked at the step.

A user's env can go wrong at any step of a long run: a NaN in an observation, an infinite
reward, an observation of another shape, or an exception. Left alone, the agent trains on the
damage (a world model exits 0 having learnt from NaN) or a traceback ends the run deep inside a
library. `EnvGuard` wraps every env `gmrl.rl.envs.make_env` builds and turns each such fault
into a one-line `EnvStepError` naming the env, the step, the field and the value:

```python
env = EnvGuard(MyEnv(), name="myenv:MyEnv")
env.step(action)   # EnvStepError: env 'myenv:MyEnv' returned a non-finite observation at
                   # step 12 of episode 1: obs[2] = nan; fix the env ...
```

What a fault does is the run's `on_env_error` policy (`env_error_policy`): `stop` (the default)
raises; `reset` ends the faulty episode (truncated, from its last good observation), counts it,
and raises only once more than `max_env_errors` episodes were cut short. An env that fails while
resetting, and an action outside the action space (a fault of the agent, not of the env), always
stop the run.
"""

import contextlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from gmrl.core.errors import EnvStepError
from gmrl.core.imports import first_line

OnEnvError = Literal["stop", "reset"]
FIX = "fix the env (or set on_env_error: reset to cut such episodes short)"


@dataclass
class EnvErrorPolicy:
    """What a faulty step does (`stop` or `reset`), how many resets are allowed, how many so far."""

    mode: OnEnvError = "stop"
    max_errors: int = 10
    count: int = 0


_POLICY = EnvErrorPolicy()


@contextmanager
def env_error_policy(mode: OnEnvError = "stop", max_errors: int = 10) -> Iterator[EnvErrorPolicy]:
    """Apply `mode` to every guarded env stepped inside the block (a run); yields its counter."""
    global _POLICY
    previous, _POLICY = _POLICY, EnvErrorPolicy(mode, max_errors)
    try:
        yield _POLICY
    finally:
        _POLICY = previous


def _shown(value: Any) -> str:
    """A value for a message: short, on one line."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


def _first_bad(array: np.ndarray, bad: np.ndarray, label: str) -> str:
    """'obs[2] = nan' for the first True entry of `bad` (`label` alone for a scalar)."""
    index = tuple(int(i) for i in np.argwhere(bad)[0]) if array.ndim else ()
    where = f"{label}[{', '.join(map(str, index))}]" if index else label
    return f"{where} = {_shown(array[index].item() if index else array.item())}"


def value_problem(value: Any, space: spaces.Space, label: str) -> str | None:
    """Why `value` is not a valid member of `space` (one clause), or None when it is.

    Box: the shape must match, the kind of number too (an integer space takes no floats; float64
    for a float32 space is fine), every entry finite and within the bounds (a rounding slack of
    1e-6 relative). Discrete: an integer in range. Dict: each entry by its own space. Other spaces:
    `space.contains`.
    """
    if isinstance(space, spaces.Box):
        try:
            array = np.asarray(value)
        except Exception:  # an object numpy cannot read (a ragged list...)
            return f"{label} is a {type(value).__name__} that is not an array"
        if array.shape != space.shape:
            return f"{label} has shape {array.shape}, but the space is Box(shape={space.shape})"
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
            return f"{label} has dtype {array.dtype}, not numbers"
        if np.issubdtype(space.dtype, np.integer) and not (
            np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_
        ):
            return f"{label} has dtype {array.dtype}, but the space holds {space.dtype}"
        finite = np.isfinite(array)
        if not finite.all():
            return f"{label} is not finite: {_first_bad(array, ~finite, label)}"
        slack = 1e-6 * (1.0 + np.abs(array))
        below, above = array < space.low - slack, array > space.high + slack
        if below.any():
            return f"{label} is below the space's low bound: {_first_bad(array, below, label)}"
        if above.any():
            return f"{label} is above the space's high bound: {_first_bad(array, above, label)}"
        return None
    if isinstance(space, spaces.Discrete):
        array = np.asarray(value)
        if array.shape not in ((), (1,)) or not np.issubdtype(array.dtype, np.integer):
            return f"{label} = {_shown(value)} is not an integer, but the space is {space}"
        if not space.start <= int(array.reshape(())) < space.start + space.n:
            return f"{label} = {_shown(value)} is outside {space}"
        return None
    if isinstance(space, spaces.Dict):
        if not isinstance(value, dict) or value.keys() != space.spaces.keys():
            return f"{label} = {_shown(value)} does not have the keys of {space}"
        for key, sub in space.spaces.items():
            problem = value_problem(value[key], sub, f"{label}[{key!r}]")
            if problem is not None:
                return problem
        return None
    try:
        inside = space.contains(value)
    except Exception:  # a space that cannot even compare the value
        inside = False
    return None if inside else f"{label} = {_shown(value)} is not inside {space}"


def reward_problem(reward: Any) -> str | None:
    """Why `reward` is not a finite real number (one clause), or None when it is."""
    array = np.asarray(reward) if isinstance(reward, (int, float, np.generic, np.ndarray)) \
        else None
    if array is None or array.size != 1 or not np.issubdtype(array.dtype, np.number) \
            or np.issubdtype(array.dtype, np.complexfloating):
        return f"reward {_shown(reward)} is not a real number"
    if not np.isfinite(array).all():
        return f"reward = {_shown(array.reshape(()).item())} is not finite"
    return None


class EnvGuard(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Checks the values crossing the boundary with `env`; faults become one `EnvStepError` line.

    `name` is how messages call the env (its id or 'module:Class'). Steps and episodes are
    counted per env copy, from 1. Its constructor arguments are recorded, so Gymnasium's
    `check_env` and `env.spec` can recreate a guarded env.
    """

    def __init__(self, env: gym.Env, name: str) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, name=name)
        super().__init__(env)
        self.name = name
        self.episode = 0
        self.step_in_episode = 0
        self._last_obs: Any = None

    def _where(self) -> str:
        return f"at step {self.step_in_episode} of episode {self.episode}"

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        self.episode += 1
        self.step_in_episode = 0
        try:
            obs, info = self.env.reset(seed=seed, options=options)
        except Exception as exc:
            raise EnvStepError(f"env '{self.name}' raised {type(exc).__name__} in reset "
                               f"(episode {self.episode}): {first_line(exc)}; fix the env") from exc
        problem = value_problem(obs, self.observation_space, "obs")
        if problem is not None:
            raise EnvStepError(f"env '{self.name}' returned a bad observation from reset "
                               f"(episode {self.episode}): {problem}; fix the env")
        self._last_obs = obs
        return obs, info

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        self.step_in_episode += 1
        problem = value_problem(action, self.action_space, "action")
        if problem is not None:
            raise EnvStepError(f"the agent gave env '{self.name}' a bad action {self._where()}: "
                               f"{problem}; this is a bug in the agent, please report it")
        try:
            obs, reward, terminated, truncated, info = self.env.step(action)
        except Exception as exc:
            return self._fault(f"raised {type(exc).__name__} {self._where()}: "
                               f"{first_line(exc)}", exc)
        problem = value_problem(obs, self.observation_space, "obs") or reward_problem(reward)
        if problem is not None:
            return self._fault(f"returned a bad value {self._where()}: {problem}", None)
        self._last_obs = obs
        return obs, reward, bool(terminated), bool(truncated), info

    def _fault(
        self, what: str, cause: Exception | None
    ) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        """Stop the run, or (on_env_error: reset) end the episode here, counting it."""
        policy = _POLICY
        if policy.mode == "reset" and policy.count < policy.max_errors:
            policy.count += 1
            _say(f"warning: env '{self.name}' {what}: episode cut short "
                 f"({policy.count} of at most {policy.max_errors}, on_env_error: reset)")
            return self._last_obs, 0.0, False, True, {"gmrl_env_error": what}
        if policy.mode == "reset":
            raise EnvStepError(f"env '{self.name}' {what}; {policy.count} episodes were already "
                               f"cut short (max_env_errors: {policy.max_errors}): fix the env") \
                from cause
        raise EnvStepError(f"env '{self.name}' {what}; {FIX}") from cause


def _say(line: str) -> None:
    """One line on stderr (nothing when stderr is closed)."""
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
