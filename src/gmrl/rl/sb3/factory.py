"""Stable-Baselines3 agents (PPO, A2C, DQN, SAC, TD3) built from a gmrl config.

```python
model = make_sb3_agent("ppo", "CartPole-v1", {"n_steps": 256, "n_envs": 4,
                       "policy_kwargs": {"net_arch": [64, 64], "activation_fn": "tanh"}}, seed=0)
model.learn(50_000, callback=RunDirCallback(run))
save_sb3_weights(model, "policy.safetensors", algo="ppo", env_id="CartPole-v1", params=...)
```

The hyper-parameter dict is passed through to the SB3 class unchanged, except for a few values
that YAML cannot spell directly:

- `n_envs` (gmrl's own key): how many copies of the env a `DummyVecEnv` steps (default 1);
- `policy` defaults to `MlpPolicy` (`MultiInputPolicy` for Dict observations);
- `policy_kwargs.activation_fn` / `optimizer_class` may be names (`tanh`, `relu`, `adam`);
- `learning_rate` may be `lin_<value>` (linear decay to 0, as in rl-zoo);
- `action_noise` may be `{type: normal | ornstein_uhlenbeck, sigma: 0.1}` (SAC/TD3/DDPG);
- lists become tuples where SB3 wants tuples (`train_freq: [1, episode]`).

Unknown keys are caught before the run starts, with a close-match suggestion.

Saving: `save_sb3_weights` writes the policy's tensors as safetensors, and `load_sb3_weights`
rebuilds the agent from the stored config and loads them: no pickle involved. SB3's own
`model.save()` / `PPO.load()` stay available, but its `.zip` format unpickles parts of the file,
so gmrl never calls SB3's `load` itself; loading someone else's `.zip` is the user's decision.
"""

import difflib
import inspect
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise
from stable_baselines3.common.vec_env import DummyVecEnv

from gmrl.core.checkpoint import flatten_state, load_tensors, save_tensors, unflatten_state
from gmrl.core.device import resolve_device
from gmrl.core.errors import CheckpointError, ConfigError
from gmrl.rl.envs import check_algorithm_supports, make_env

SB3_ALGORITHMS: dict[str, type[BaseAlgorithm]] = {
    "ppo": PPO, "a2c": A2C, "dqn": DQN, "sac": SAC, "td3": TD3,
}
GMRL_KEYS = ("n_envs",)
_MANAGED = ("self", "env", "seed", "device", "verbose", "tensorboard_log", "_init_setup_model")
_ACTIVATIONS = {
    "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "elu": torch.nn.ELU,
    "leaky_relu": torch.nn.LeakyReLU, "gelu": torch.nn.GELU, "silu": torch.nn.SiLU,
}
_OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "rmsprop": torch.optim.RMSprop,
               "sgd": torch.optim.SGD}


def algorithm_class(algo: str) -> type[BaseAlgorithm]:
    """The SB3 class for `algo` (ppo, a2c, dqn, sac, td3), or a one-line `ConfigError`."""
    if algo not in SB3_ALGORITHMS:
        close = difflib.get_close_matches(algo, list(SB3_ALGORITHMS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConfigError(
            f"unknown SB3 algorithm '{algo}'{hint} (available: {', '.join(SB3_ALGORITHMS)})"
        )
    return SB3_ALGORITHMS[algo]


def check_sb3_params(algo: str, params: dict[str, Any]) -> None:
    """Reject keys the SB3 class does not take (and ones gmrl sets itself), naming the key."""
    allowed = [
        name for name in inspect.signature(algorithm_class(algo).__init__).parameters
        if name not in _MANAGED
    ] + list(GMRL_KEYS)
    for key in params:
        if key in _MANAGED:
            raise ConfigError(f"{algo} params: '{key}' is set by gmrl (use the top-level config)")
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(
                f"{algo} params: unknown key '{key}'{hint} (allowed: {', '.join(allowed)})"
            )
    n_envs = params.get("n_envs", 1)
    if not isinstance(n_envs, int) or n_envs < 1:
        raise ConfigError(f"{algo} params: n_envs must be a positive integer, got {n_envs!r}")


def _named(table: dict[str, Any], value: Any, what: str) -> Any:
    if not isinstance(value, str):
        return value
    if value.lower() not in table:
        raise ConfigError(f"unknown {what} '{value}' (choose from: {', '.join(table)})")
    return table[value.lower()]


def _learning_rate(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("lin_"):
        try:
            start = float(value[4:])
        except ValueError as exc:
            raise ConfigError(f"learning_rate '{value}' must look like lin_3e-4") from exc
        return lambda progress_remaining: progress_remaining * start
    return value


def _action_noise(value: Any, action_space: spaces.Space) -> Any:
    if not isinstance(value, dict):
        return value
    if not isinstance(action_space, spaces.Box):
        raise ConfigError("action_noise needs a Box action space")
    kind = value.get("type", "normal")
    sigma = float(value.get("sigma", 0.1)) * np.ones(action_space.shape)
    mean = np.zeros(action_space.shape)
    if kind == "normal":
        return NormalActionNoise(mean, sigma)
    if kind == "ornstein_uhlenbeck":
        return OrnsteinUhlenbeckActionNoise(mean, sigma)
    raise ConfigError(f"action_noise type '{kind}' unknown: use normal or ornstein_uhlenbeck")


def sb3_kwargs(algo: str, params: dict[str, Any], action_space: spaces.Space,
               observation_space: spaces.Space) -> dict[str, Any]:
    """Turn YAML-friendly params into the keyword arguments the SB3 class expects."""
    check_sb3_params(algo, params)
    kwargs = {k: v for k, v in params.items() if k not in GMRL_KEYS}
    is_dict = isinstance(observation_space, spaces.Dict)
    kwargs.setdefault("policy", "MultiInputPolicy" if is_dict else "MlpPolicy")
    policy_kwargs = dict(kwargs.get("policy_kwargs") or {})
    if "activation_fn" in policy_kwargs:
        policy_kwargs["activation_fn"] = _named(_ACTIVATIONS, policy_kwargs["activation_fn"],
                                                "activation_fn")
    if "optimizer_class" in policy_kwargs:
        policy_kwargs["optimizer_class"] = _named(_OPTIMIZERS, policy_kwargs["optimizer_class"],
                                                  "optimizer_class")
    if policy_kwargs:
        kwargs["policy_kwargs"] = policy_kwargs
    if "learning_rate" in kwargs:
        kwargs["learning_rate"] = _learning_rate(kwargs["learning_rate"])
    if "action_noise" in kwargs:
        kwargs["action_noise"] = _action_noise(kwargs["action_noise"], action_space)
    if isinstance(kwargs.get("train_freq"), list):
        kwargs["train_freq"] = tuple(kwargs["train_freq"])
    return kwargs


def make_sb3_vec_env(env_id: str, n_envs: int = 1, env_kwargs: dict[str, Any] | None = None
                     ) -> DummyVecEnv:
    """`n_envs` Monitor-wrapped copies of the env (Monitor feeds SB3's episode statistics)."""
    env_kwargs = dict(env_kwargs or {})
    return DummyVecEnv(
        [lambda: Monitor(make_env(env_id, check=False, **env_kwargs))] * n_envs
    )


def make_sb3_agent(
    algo: str, env_id: str, params: dict[str, Any] | None = None, *,
    env_kwargs: dict[str, Any] | None = None, seed: int = 0, device: str = "auto",
    verbose: int = 0,
) -> BaseAlgorithm:
    """Build an SB3 agent on `env_id` with `params` passed through (see the module docstring)."""
    params = dict(params or {})
    cls = algorithm_class(algo)
    probe = make_env(env_id, **(env_kwargs or {}))
    try:
        check_algorithm_supports(algo, probe)
        kwargs = sb3_kwargs(algo, params, probe.action_space, probe.observation_space)
    finally:
        probe.close()
    env = make_sb3_vec_env(env_id, int(params.get("n_envs", 1)), env_kwargs)
    try:
        return cls(env=env, seed=seed, device=str(resolve_device(device)), verbose=verbose,
                   **kwargs)
    except (TypeError, ValueError, AssertionError) as exc:
        env.close()
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise ConfigError(f"{algo} params rejected by Stable-Baselines3: {message[:200]}") from exc


def save_sb3_weights(model: BaseAlgorithm, path: str | Path, *, algo: str, env_id: str,
                     params: dict[str, Any], env_kwargs: dict[str, Any] | None = None,
                     seed: int = 0) -> Path:
    """The policy's tensors (actor, critics, targets) as safetensors plus the config as JSON."""
    tensors, skeleton = flatten_state({"policy": model.policy.state_dict()})
    metadata = {"class": "sb3", "algo": algo, "env_id": env_id, "params": params,
                "env_kwargs": dict(env_kwargs or {}), "seed": seed, "nets": skeleton}
    return save_tensors(path, tensors, metadata)


def load_sb3_weights(path: str | Path, *, device: str = "auto") -> BaseAlgorithm:
    """Rebuild an SB3 agent from `save_sb3_weights` output (no pickle; optimizer state resets)."""
    tensors, metadata = load_tensors(path)
    if metadata.get("class") != "sb3" or "nets" not in metadata:
        raise CheckpointError(f"'{path}' is not an SB3 policy saved by gmrl")
    model = make_sb3_agent(
        metadata["algo"], metadata["env_id"], metadata["params"],
        env_kwargs=metadata["env_kwargs"], seed=metadata["seed"], device=device,
    )
    try:
        model.policy.load_state_dict(unflatten_state(tensors, metadata["nets"])["policy"])
    except (RuntimeError, KeyError) as exc:
        raise CheckpointError(f"'{path}' does not match its SB3 policy: re-save it") from exc
    return model
