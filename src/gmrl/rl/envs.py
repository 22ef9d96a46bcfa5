"""Making Gymnasium environments from a name, with one-line errors for every way that can fail.

```python
env = make_env("CartPole-v1")                          # a registered Gymnasium id
env = make_env("my_pkg.envs:GridWorld", size=5)        # a user class, checked with check_env
envs = make_vector_env("CartPole-v1", num_envs=8)      # gymnasium.vector.SyncVectorEnv
check_algorithm_supports("dqn", env)                   # EnvError: DQN needs Discrete actions
```

Errors are `gmrl.core.errors.EnvError` with a single line: an unknown id gets the closest
registered ids as a suggestion, a failing import path names what failed, a user environment that
fails `gymnasium.utils.env_checker.check_env` gets its first problem summarised, and an algorithm
that cannot handle the env's spaces says which space it needs.
"""

import contextlib
import difflib
import re
import sys
import warnings
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

from gmrl.core.errors import EnvError
from gmrl.core.imports import attribute_of, first_line, import_module_of
from gmrl.rl.guard import EnvGuard

# What each algorithm can handle: (observation space kinds, action space kinds, needs env.P).
# "box" is a continuous vector space, "discrete" an integer space; SB3's on-policy agents also
# take MultiDiscrete / MultiBinary actions and Dict observations (via MultiInputPolicy).
_SPACE_NEEDS: dict[str, tuple[tuple[str, ...], tuple[str, ...], bool]] = {
    "q_learning": (("discrete",), ("discrete",), False),
    "sarsa": (("discrete",), ("discrete",), False),
    "value_iteration": (("discrete",), ("discrete",), True),
    "policy_iteration": (("discrete",), ("discrete",), True),
    "mcts": (("discrete", "box"), ("discrete",), False),
    "reinforce": (("discrete", "box"), ("discrete", "box"), False),
    "actor_critic": (("discrete", "box"), ("discrete", "box"), False),
    "ppo": (("discrete", "box", "multi", "dict"), ("discrete", "box", "multi"), False),
    "a2c": (("discrete", "box", "multi", "dict"), ("discrete", "box", "multi"), False),
    "dqn": (("discrete", "box", "multi", "dict"), ("discrete",), False),
    "sac": (("box", "dict"), ("box",), False),
    "td3": (("box", "dict"), ("box",), False),
}

_KIND_WORDS = {
    "discrete": "Discrete",
    "box": "Box (continuous)",
    "multi": "MultiDiscrete/MultiBinary",
    "dict": "Dict",
}


def space_kind(space: spaces.Space) -> str:
    """Classify a space as 'discrete', 'box', 'multi', 'dict' or its class name."""
    if isinstance(space, spaces.Discrete):
        return "discrete"
    if isinstance(space, spaces.Box):
        return "box"
    if isinstance(space, (spaces.MultiDiscrete, spaces.MultiBinary)):
        return "multi"
    if isinstance(space, spaces.Dict):
        return "dict"
    return type(space).__name__


def describe_space(space: spaces.Space) -> str:
    """A short space description for messages: Box(shape=(4,)) rather than its full bounds."""
    if isinstance(space, spaces.Box):
        return f"Box(shape={space.shape})"
    return str(space)


def env_name(env: gym.Env) -> str:
    """The env's registered id when it has one, else its class name (for messages)."""
    spec = getattr(env, "spec", None)
    return spec.id if spec is not None and spec.id else type(env.unwrapped).__name__


def _suggest_ids(env_id: str) -> str:
    """'; did you mean ...?' built from Gymnasium's registry, or '' when nothing is close."""
    ids = list(gym.envs.registry.keys())
    close = difflib.get_close_matches(env_id, ids, n=3, cutoff=0.6)
    if not close:  # ids that differ only in version or case
        stem = env_id.split("-v")[0].lower()
        close = [i for i in ids if i.split("-v")[0].lower() == stem][:3]
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def _import_target(path: str) -> Any:
    """Import 'package.module:Name' and return `Name` (or the module's registered env id)."""
    module, attribute = import_module_of(path, "env", EnvError)
    if attribute in gym.envs.registry:  # 'module:Env-v0' registers the id on import
        return attribute
    return attribute_of(module, attribute, f"env '{path}'", EnvError)


# check_env's advice about itself rather than about the user's env (a wrapper is what gmrl trains
# on, so it is what gets checked)
_CHECKER_SELF_ADVICE = ("is different from the unwrapped version",)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def check_user_env(env: gym.Env, name: str) -> None:
    """Run Gymnasium's `check_env`; its first complaint becomes a one-line `EnvError`.

    Its warnings (advice, not failures: e.g. a float observation space without bounds, an
    observation outside its space at reset) are shown on stderr, one line each, so that problems
    it noticed are not hidden. A `gymnasium.Wrapper` need not inherit `RecordConstructorArgs`:
    check_env's close check, which rebuilds the env from its spec, is skipped for wrappers.
    """
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(env, skip_render_check=True, skip_close_check=env.unwrapped is not env)
    except Exception as exc:
        problem = " ".join(first_line(exc).split())
        if len(problem) > 200:
            problem = problem[:197] + "..."
        raise EnvError(
            f"env '{name}' fails gymnasium's check_env: {problem} "
            "(fix the env; see gymnasium.utils.env_checker)"
        ) from exc
    shown: set[str] = set()
    for warning in caught:
        text = " ".join(_ANSI.sub("", str(warning.message)).split()).removeprefix("WARN: ")
        if text in shown or any(advice in text for advice in _CHECKER_SELF_ADVICE):
            continue
        shown.add(text)
        _say(f"warning: env '{name}' (gymnasium check_env): {text}")


def _say(line: str) -> None:
    """One line on stderr (nothing when stderr is closed)."""
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


_ATARI_GAMES = ("pong", "breakout", "spaceinvaders", "seaquest", "qbert", "beamrider", "enduro",
                "mspacman", "asteroids", "freeway", "montezumarevenge", "boxing", "riverraid")


def _is_atari(env_id: str) -> bool:
    """Whether `env_id` names an Atari game (ALE/Pong-v5, PongNoFrameskip-v4, Breakout-v5)."""
    if env_id.startswith("ALE/") or "NoFrameskip" in env_id or "Deterministic-v" in env_id:
        return True
    stem = env_id.split("-v")[0].lower().removesuffix("-ram")
    return stem in _ATARI_GAMES


def _register_atari(env_id: str) -> None:
    """Register the ALE games if ale-py is installed, else a one-line hint to install it."""
    try:
        import ale_py  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise EnvError(
            f"env '{env_id}' is an Atari game, which needs the Arcade Learning Environment: "
            "pip install gymnasium[atari] ale-py"
        ) from None
    gym.register_envs(ale_py)


def _register_dm_control(env_id: str) -> None:
    """Register shimmy's DeepMind Control ids if shimmy is installed, else a one-line hint."""
    try:
        import shimmy  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        raise EnvError(
            f"env '{env_id}' is a DeepMind Control task, which needs shimmy and dm-control: "
            "pip install 'shimmy[dm-control]' (gmrl's dmc extra)"
        ) from None
    gym.register_envs(shimmy)


def _flat_if_dm_control(env: gym.Env, env_id: str) -> gym.Env:
    """DeepMind Control tasks (shimmy's `dm_control/...` ids) observe a dict of state vectors
    (positions, velocities...): flattened into one Box, the state every gmrl agent reads."""
    if env_id.startswith("dm_control/") and isinstance(env.observation_space, gym.spaces.Dict):
        return gym.wrappers.FlattenObservation(env)
    return env


def make_env(env_id: str, *, check: bool = True, **kwargs: Any) -> gym.Env:
    """Create an environment from a registered id or a 'package.module:ClassName' path.

    `kwargs` go to `gymnasium.make` (e.g. `is_slippery=False`, `max_episode_steps=200`) or to the
    user class. A user class is run through `check_env` unless `check=False` (used for the extra
    copies of an env that has already been checked). DeepMind Control tasks
    (`dm_control/cheetah-run-v0`, with the `dmc` extra) come with their dict of state vectors
    flattened into one Box. Every env comes wrapped in
    `gmrl.rl.guard.EnvGuard`, which checks each observation, reward and action at the step.
    """
    if not isinstance(env_id, str) or not env_id.strip():
        raise EnvError("env id is empty: give a Gymnasium id such as 'CartPole-v1'")
    target: Any = env_id
    user_class = False
    if ":" in env_id and env_id not in gym.envs.registry:
        target = _import_target(env_id)
        user_class = not isinstance(target, str)
    if not user_class:
        if target not in gym.envs.registry and _is_atari(env_id):
            _register_atari(env_id)
        if target not in gym.envs.registry and env_id.startswith("dm_control/"):
            _register_dm_control(env_id)
        if target not in gym.envs.registry:
            raise EnvError(
                f"unknown Gymnasium env '{env_id}'{_suggest_ids(env_id)} "
                "(registered ids: gymnasium.pprint_registry())"
            )
        try:
            return EnvGuard(_flat_if_dm_control(gym.make(target, **kwargs), env_id), env_id)
        except gym.error.DependencyNotInstalled as exc:
            raise EnvError(f"env '{env_id}' needs an extra package: {first_line(exc)}") from exc
        except TypeError as exc:
            raise EnvError(
                f"env '{env_id}' rejected its arguments {sorted(kwargs)}: {first_line(exc)}"
            ) from exc
        except gym.error.Error as exc:
            raise EnvError(f"cannot make env '{env_id}': {first_line(exc)}") from exc
    if not (isinstance(target, type) and issubclass(target, gym.Env)) and not callable(target):
        raise EnvError(f"'{env_id}' is not a gymnasium.Env class or factory")
    try:
        env = target(**kwargs)
    except Exception as exc:
        raise EnvError(
            f"creating env '{env_id}' raised {type(exc).__name__}: {first_line(exc)}"
        ) from exc
    if not isinstance(env, gym.Env):
        raise EnvError(f"'{env_id}' returned a {type(env).__name__}, not a gymnasium.Env")
    if check:
        check_user_env(env, env_id)
    return EnvGuard(env, env_id)


def env_factory(env_id: str, **kwargs: Any) -> Callable[[], gym.Env]:
    """A no-argument constructor for vector envs (user envs are checked once, by the caller)."""
    return lambda: make_env(env_id, check=False, **kwargs)


def make_vector_env(
    env_id: str, num_envs: int, *, env_kwargs: dict[str, Any] | None = None,
    autoreset_mode: gym.vector.AutoresetMode = gym.vector.AutoresetMode.SAME_STEP,
    recorded: bool = False,
) -> gym.vector.SyncVectorEnv:
    """`num_envs` copies of an env stepped in lock-step in this process.

    The default SAME_STEP autoreset returns the first observation of the next episode together
    with the last step of the previous one; the true final observation (needed to bootstrap a
    truncated episode) is in `info["final_obs"]`. `recorded=True` wraps each copy in an
    `EpisodeRecorder`, so that its mid-episode state can be checkpointed (`gmrl.rl.env_state`).
    """
    factory = env_factory(env_id, **(env_kwargs or {}))
    if recorded:
        from gmrl.rl.env_state import EpisodeRecorder

        plain = factory
        factory = lambda: EpisodeRecorder(plain())  # noqa: E731
    return gym.vector.SyncVectorEnv([factory] * num_envs, autoreset_mode=autoreset_mode)


def _space_problem(algo: str, env: gym.Env) -> str | None:
    """Why `algo` cannot handle `env` (one clause), or None when it can."""
    obs_kinds, action_kinds, needs_model = _SPACE_NEEDS[algo]
    name = env_name(env)
    for role, space, allowed in (
        ("actions", env.action_space, action_kinds),
        ("observations", env.observation_space, obs_kinds),
    ):
        if space_kind(space) not in allowed:
            needed = " or ".join(_KIND_WORDS.get(k, k) for k in allowed)
            return f"{algo} needs {needed} {role}, but '{name}' has {describe_space(space)}"
    action: Any = env.action_space
    if algo in ("sac", "td3") and not (
        np.all(np.isfinite(action.low)) and np.all(np.isfinite(action.high))
    ):
        return f"{algo} needs a bounded action Box, but '{name}' has {describe_space(action)}"
    if algo == "mcts":
        from gmrl.rl.search_model import search_model_for

        try:
            search_model_for(env)
        except EnvError as exc:
            return str(exc).split(";")[0]
    if needs_model and not hasattr(env.unwrapped, "P"):
        return f"{algo} needs the env's transition model env.unwrapped.P, which '{name}' lacks"
    return None


def supported_algorithms(env: gym.Env) -> list[str]:
    """Every algorithm whose space needs `env` meets (for error messages and docs)."""
    return [algo for algo in _SPACE_NEEDS if _space_problem(algo, env) is None]


def check_algorithm_supports(algo: str, env: gym.Env) -> None:
    """Raise a one-line `EnvError` when `algo` cannot handle `env`'s spaces (or needs env.P)."""
    if algo not in _SPACE_NEEDS:
        close = difflib.get_close_matches(algo, list(_SPACE_NEEDS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise EnvError(f"unknown algorithm '{algo}'{hint} (available: {', '.join(_SPACE_NEEDS)})")
    problem = _space_problem(algo, env)
    if problem is not None:
        works = ", ".join(supported_algorithms(env)) or "none of gmrl's algorithms"
        raise EnvError(f"{problem}: choose another algorithm (this env works with: {works})")
