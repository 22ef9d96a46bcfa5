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
- `learning_rate`, `clip_range` and `clip_range_vf` may be `lin_<value>` (linear decay to 0,
  as in rl-zoo);
- `action_noise` may be `{type: normal | ornstein_uhlenbeck, sigma: 0.1}` (SAC/TD3/DDPG);
- `replay_buffer_class` may be a name that the caller maps to a class (`replay_buffers`, e.g.
  the recipes' `{"synthetic": SyntheticReplayBuffer}`: this RL layer knows no combination's
  buffer); a class with a `check_settings(replay_buffer_kwargs, observation_space,
  action_space)` classmethod has its kwargs and the spaces checked before the agent is built;
- lists become tuples where SB3 wants tuples (`train_freq: [1, episode]`).

Every key is validated by one pydantic model per algorithm, generated from the SB3 class's
signature (`gmrl.rl.params.sb3_params_model`): unknown keys get a close-match suggestion, learning
rates must be finite and positive, all before the run starts.

Saving: `save_sb3_agent` writes the agent's complete state (`gmrl.rl.sb3.state`: networks,
optimizers, replay buffer, counters) as one gmrl artifact (`gmrl.core.checkpoint.save_artifact`:
safetensors + JSON), and `load_sb3_agent` rebuilds the agent from the stored config and loads it:
no pickle involved. SB3's own `model.save()` / `PPO.load()` stay available, but its `.zip` format
unpickles parts of the file, so gmrl never calls SB3's `load` itself.
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from pydantic import BaseModel
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise
from stable_baselines3.common.vec_env import DummyVecEnv

from gmrl.core.checkpoint import load_artifact, load_tensors, restore_or_explain, save_artifact
from gmrl.core.config import validate_config
from gmrl.core.device import resolve_device
from gmrl.core.errors import CheckpointError, ConfigError
from gmrl.rl.env_state import EpisodeRecorder
from gmrl.rl.envs import check_algorithm_supports, make_env
from gmrl.rl.params import algorithm_class, sb3_params_model

GMRL_KEYS = ("n_envs",)
_ACTIVATIONS = {
    "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "elu": torch.nn.ELU,
    "leaky_relu": torch.nn.LeakyReLU, "gelu": torch.nn.GELU, "silu": torch.nn.SiLU,
}
_OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "rmsprop": torch.optim.RMSprop,
               "sgd": torch.optim.SGD}


def validate_sb3_params(algo: str, params: dict[str, Any] | BaseModel) -> BaseModel:
    """`params` validated by the algorithm's params model (the one way SB3 params are checked)."""
    algorithm_class(algo)  # a one-line error for an unknown algorithm
    model = sb3_params_model(algo)
    if isinstance(params, model):
        return params
    if isinstance(params, BaseModel):
        params = params.model_dump(exclude={"algo"})
    checked: BaseModel = validate_config(model, {**params, "algo": algo}, f"{algo} params")
    return checked


def check_sb3_params(algo: str, params: dict[str, Any]) -> None:
    """Reject keys the SB3 class does not take (and ones gmrl sets itself), naming the key."""
    validate_sb3_params(algo, params)


def _named(table: dict[str, Any], value: Any, what: str) -> Any:
    if not isinstance(value, str):
        return value
    if value.lower() not in table:
        raise ConfigError(f"unknown {what} '{value}' (choose from: {', '.join(table)})")
    return table[value.lower()]


def _linear(value: Any) -> Any:
    """`lin_<value>` as SB3's schedule (a function of the progress remaining, 1 -> 0)."""
    if isinstance(value, str) and value.startswith("lin_"):
        start = float(value[4:])  # validated by the params model
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
    return OrnsteinUhlenbeckActionNoise(mean, sigma)


ReplayBuffers = Mapping[str, type[ReplayBuffer]]
"""Names a config may give as `replay_buffer_class` -> the buffer class (the caller's choice)."""


def sb3_kwargs(algo: str, params: dict[str, Any] | BaseModel, action_space: spaces.Space,
               observation_space: spaces.Space, *,
               replay_buffers: ReplayBuffers | None = None) -> dict[str, Any]:
    """Turn YAML-friendly params into the keyword arguments the SB3 class expects
    (`replay_buffers`: the names `replay_buffer_class` may take)."""
    checked = validate_sb3_params(algo, params)
    given = checked.model_dump(exclude={"algo"}, exclude_unset=True)
    kwargs = {k: v for k, v in given.items() if k not in GMRL_KEYS}
    if kwargs.get("policy") is None:
        is_dict = isinstance(observation_space, spaces.Dict)
        kwargs["policy"] = "MultiInputPolicy" if is_dict else "MlpPolicy"
    policy_kwargs = dict(kwargs.get("policy_kwargs") or {})
    if "activation_fn" in policy_kwargs:
        policy_kwargs["activation_fn"] = _named(_ACTIVATIONS, policy_kwargs["activation_fn"],
                                                "activation_fn")
    if "optimizer_class" in policy_kwargs:
        policy_kwargs["optimizer_class"] = _named(_OPTIMIZERS, policy_kwargs["optimizer_class"],
                                                  "optimizer_class")
    if policy_kwargs:
        kwargs["policy_kwargs"] = policy_kwargs
    for key in ("learning_rate", "clip_range", "clip_range_vf"):
        if key in kwargs:
            kwargs[key] = _linear(kwargs[key])
    if kwargs.get("action_noise") is not None:
        kwargs["action_noise"] = _action_noise(kwargs["action_noise"], action_space)
    if isinstance(kwargs.get("train_freq"), list):
        kwargs["train_freq"] = tuple(kwargs["train_freq"])
    if kwargs.get("replay_buffer_class") is not None:
        kwargs["replay_buffer_class"] = _replay_buffer_class(
            kwargs["replay_buffer_class"], kwargs.get("replay_buffer_kwargs"),
            action_space, observation_space, replay_buffers or {},
        )
    return kwargs


def _replay_buffer_class(value: Any, buffer_kwargs: Any, action_space: spaces.Space,
                         observation_space: spaces.Space, replay_buffers: ReplayBuffers) -> Any:
    """The class a name in `replay_buffers` stands for; its `check_settings` (where it has one)
    checks the kwargs and the spaces here, before any run directory exists."""
    if not isinstance(value, str):
        return value
    cls = replay_buffers.get(value.lower())
    if cls is None:
        known = f"choose from: {', '.join(replay_buffers)}" if replay_buffers else (
            "no buffer is known by name here: pass the class")
        raise ConfigError(f"unknown replay_buffer_class '{value}' ({known})")
    check = getattr(cls, "check_settings", None)
    if check is not None:
        check(dict(buffer_kwargs or {}), observation_space, action_space)
    return cls


def make_sb3_vec_env(env_id: str, n_envs: int = 1, env_kwargs: dict[str, Any] | None = None
                     ) -> DummyVecEnv:
    """`n_envs` copies of the env; Monitor feeds SB3's episode statistics, and the outermost
    `EpisodeRecorder` lets `gmrl.rl.sb3.state` save and rebuild each copy mid-episode."""
    env_kwargs = dict(env_kwargs or {})
    return DummyVecEnv(
        [lambda: EpisodeRecorder(Monitor(make_env(env_id, check=False, **env_kwargs)))] * n_envs
    )


def make_sb3_agent(
    algo: str, env_id: str, params: dict[str, Any] | BaseModel | None = None, *,
    env_kwargs: dict[str, Any] | None = None, seed: int = 0, device: str = "auto",
    verbose: int = 0, replay_buffers: ReplayBuffers | None = None,
) -> BaseAlgorithm:
    """Build an SB3 agent on `env_id` with `params` passed through (see the module docstring;
    `replay_buffers`: the names `params.replay_buffer_class` may take)."""
    cls = algorithm_class(algo)
    checked = validate_sb3_params(algo, params if params is not None else {})
    probe = make_env(env_id, **(env_kwargs or {}))
    try:
        check_algorithm_supports(algo, probe)
        kwargs = sb3_kwargs(algo, checked, probe.action_space, probe.observation_space,
                            replay_buffers=replay_buffers)
    finally:
        probe.close()
    env = make_sb3_vec_env(env_id, int(getattr(checked, "n_envs", 1)), env_kwargs)
    try:
        return cls(env=env, seed=seed, device=str(resolve_device(device)), verbose=verbose,
                   **kwargs)
    except (TypeError, ValueError, AssertionError) as exc:
        env.close()
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise ConfigError(f"{algo} params rejected by Stable-Baselines3: {message[:200]}") from exc


# --------------------------------------------------------------------------- saved agents
@dataclass
class SB3AgentSpec:
    """What rebuilds an SB3 agent: the arguments of `make_sb3_agent` (an artifact's `init`)."""

    algo: str
    env_id: str
    params: dict[str, Any] = field(default_factory=dict)
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    seed: int = 0

    def build(self, device: str = "auto", replay_buffers: ReplayBuffers | None = None
              ) -> BaseAlgorithm:
        return make_sb3_agent(self.algo, self.env_id, self.params, env_kwargs=self.env_kwargs,
                              seed=self.seed, device=device, replay_buffers=replay_buffers)


SB3_ARTIFACT = "sb3_agent"


def save_sb3_agent(model: BaseAlgorithm, path: str | Path, *, algo: str, env_id: str,
                   params: dict[str, Any] | BaseModel | None = None,
                   env_kwargs: dict[str, Any] | None = None, seed: int = 0,
                   include_buffer: bool = True) -> Path:
    """Save the agent's complete state (`sb3_state`) and its config as one gmrl artifact."""
    from gmrl.rl.sb3.state import sb3_state

    if isinstance(params, BaseModel):
        params = params.model_dump(mode="json", exclude={"algo"}, exclude_unset=True)
    spec = SB3AgentSpec(algo, env_id, dict(params or {}), dict(env_kwargs or {}), seed)
    return save_artifact(path, kind=SB3_ARTIFACT, cls=SB3AgentSpec, init=asdict(spec),
                         state=sb3_state(model, include_buffer=include_buffer))


def load_sb3_agent(path: str | Path, *, device: str = "auto",
                   replay_buffers: ReplayBuffers | None = None) -> BaseAlgorithm:
    """Rebuild an agent saved by `save_sb3_agent`, ready to predict or to continue learning
    (`replay_buffers`: as given to `make_sb3_agent`, when its params name a buffer)."""
    from gmrl.rl.sb3.state import load_sb3_state

    try:
        artifact = load_artifact(path, kind=SB3_ARTIFACT, base=SB3AgentSpec)
    except CheckpointError:
        _refuse_old_format(path)
        raise
    model = artifact.cls(**artifact.init).build(device, replay_buffers)
    restore_or_explain(path, f"its {artifact.init.get('algo')} agent",
                       lambda: load_sb3_state(model, artifact.state))
    return model


def _refuse_old_format(path: str | Path) -> None:
    """One line for files in the weights-only format of gmrl < 0.2 (no `artifact` header)."""
    _, metadata = load_tensors(path)
    if "artifact" not in metadata and metadata.get("class") == "sb3":
        raise CheckpointError(
            f"'{path}' is an SB3 policy in gmrl's old weights-only format, which this version "
            "no longer reads: train it again (gmrl run) to save the full agent"
        )


# Earlier names, kept so that existing code keeps working (they now save the full agent).
save_sb3_weights = save_sb3_agent
load_sb3_weights = load_sb3_agent
