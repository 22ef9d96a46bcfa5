"""The complete state of a Stable-Baselines3 agent as nested tensors and JSON: no pickle.

`sb3_state(model)` gathers everything training depends on, so that a fresh agent built from the
same config and given `load_sb3_state(model, state)` continues exactly as the saved one would:

- every network and optimizer SB3 itself saves (`model._get_torch_save_params()`: the policy
  with its target nets, the policy / actor / critic optimizers, SAC's entropy coefficient and
  its optimizer);
- the replay buffer of off-policy agents (observations, actions, rewards, next observations,
  dones, timeouts, `pos`, `full`), filled part only, and a buffer's own `extra_state()` (the
  generator and pool of `gmrl.synthetic.SyntheticReplayBuffer`);
- counters and schedules: `num_timesteps`, `_n_updates`, `_episode_num`, progress, DQN's
  `exploration_rate` and target-update counter `_n_calls`;
- the episode statistics behind `rollout/ep_rew_mean`, the last observation and episode starts,
  values SB3's logger holds until its next dump, Ornstein-Uhlenbeck noise, and the action
  space's sampling generator;
- each training env's position mid-episode, rebuilt by replay (`gmrl.rl.env_state`) when the
  envs come from `make_sb3_vec_env`.

The global Python/NumPy/torch generators SB3 also draws from are saved by the caller (the run
checkpoint of `gmrl.core.loop.TrainingLoop` holds them). Where to call it: between rollouts
(`BaseCallback._on_rollout_start`) every part of the state is consistent; mid-rollout, an
on-policy agent's half-filled rollout buffer is not saved.

`policy_tensors` / `load_policy_tensors` are the acting part alone, as one flat dict of tensors:
the policy's state dict (its target networks included) and SB3's learned variables (SAC's
entropy coefficient). `gmrl.rl.sb3.agent.SB3Agent` saves them as its weights.

Two steps restore it, because `model.learn()` rebuilds SB3's logger and resets action noise:
`load_sb3_state` before `learn`, then `restore_learn_state` once learning has started
(`RunDirCallback(resume_state=...)` does that in `_on_training_start`).
"""

import warnings
from collections import deque
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.buffers import DictReplayBuffer, ReplayBuffer
from stable_baselines3.common.noise import OrnsteinUhlenbeckActionNoise, VectorizedActionNoise
from stable_baselines3.common.utils import get_device
from stable_baselines3.common.vec_env import DummyVecEnv

from gmrl.core.errors import CheckpointError
from gmrl.rl.env_state import (
    EpisodeRecorder,
    same_observation,
    set_space_rng_state,
    space_rng_state,
)

STATE_FORMAT = 1
_COUNTERS = ("num_timesteps", "_n_updates", "_episode_num", "_current_progress_remaining",
             "exploration_rate", "_n_calls")
_BUFFER_FIELDS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")


def _attr(model: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        model = getattr(model, part)
    return model


def _tensor(value: Any) -> Any:
    """numpy arrays (or dicts of them, for Dict observations) as CPU tensors."""
    if isinstance(value, dict):
        return {key: _tensor(item) for key, item in value.items()}
    return torch.from_numpy(np.ascontiguousarray(value).copy())


def _array(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _array(item) for key, item in value.items()}
    return value.numpy()


# --------------------------------------------------------------------------- capture
def sb3_state(model: BaseAlgorithm, *, include_buffer: bool = True) -> dict[str, Any]:
    """Everything `load_sb3_state` needs to continue training `model` exactly (see module).

    A snapshot: its tensors and arrays are copies, so it stays valid while training goes on.
    """
    modules, variables = model._get_torch_save_params()
    state: dict[str, Any] = {
        "format": STATE_FORMAT,
        "modules": {name: _copy(_attr(model, name).state_dict()) for name in modules},
        "variables": {name: _attr(model, name).detach().clone() for name in variables},
        "counters": {name: _scalar(getattr(model, name)) for name in _COUNTERS
                     if hasattr(model, name)},
        "episodes": _episode_info(model),
        "action_space_rng": space_rng_state(model.action_space),
        "noise": _noise_state(getattr(model, "action_noise", None)),
        "logger": _logger_state(model),
    }
    buffer: Any = getattr(model, "replay_buffer", None)
    if include_buffer and buffer is not None:
        state["replay_buffer"] = _buffer_state(buffer)
    if model._last_obs is not None:
        state["last_obs"] = _tensor(model._last_obs)
        state["last_episode_starts"] = _tensor(model._last_episode_starts)
    recorders = _recorders(model)
    if recorders is not None:
        state["envs"] = [recorder.state() for recorder in recorders]
    return state


def _copy(tree: Any) -> Any:
    """Nested dicts/lists with every tensor cloned (state dicts share the live parameters)."""
    if isinstance(tree, torch.Tensor):
        return tree.detach().clone()
    if isinstance(tree, dict):
        return {key: _copy(value) for key, value in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_copy(value) for value in tree)
    return tree


def _scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _episode_info(model: BaseAlgorithm) -> dict[str, Any]:
    infos = list(model.ep_info_buffer or [])
    return {
        "info": [{key: _scalar(v) for key, v in info.items()} for info in infos],
        "success": [bool(s) for s in (model.ep_success_buffer or [])],
        "tracked": model.ep_info_buffer is not None,
    }


def _noise_state(noise: Any) -> list[Any] | None:
    noises = _noises(noise)
    if noises is None:
        return None  # Gaussian noise has no state of its own (it draws from np.random)
    return [torch.from_numpy(np.array(n.noise_prev, copy=True)) for n in noises]


def _noises(noise: Any) -> list[OrnsteinUhlenbeckActionNoise] | None:
    """The Ornstein-Uhlenbeck processes behind `noise` (None for stateless noise)."""
    noises = noise.noises if isinstance(noise, VectorizedActionNoise) else [noise]
    found = [n for n in noises if isinstance(n, OrnsteinUhlenbeckActionNoise)]
    return found if len(found) == len(noises) else None


def _logger_state(model: BaseAlgorithm) -> dict[str, Any]:
    """Values recorded since SB3's last dump (e.g. train/* recorded after the last rollout)."""
    logger = getattr(model, "_logger", None)
    if logger is None:
        return {"values": {}, "counts": {}, "excluded": {}}
    values = {key: _scalar(value) for key, value in logger.name_to_value.items()
              if isinstance(_scalar(value), (int, float))}
    return {
        "values": values,
        "counts": {key: int(logger.name_to_count[key]) for key in values
                   if key in logger.name_to_count},
        "excluded": {key: list(logger.name_to_excluded[key] or ()) for key in values
                     if key in logger.name_to_excluded},
    }


def _buffer_state(buffer: Any) -> dict[str, Any]:
    """The filled part of the buffer's arrays, plus `extra_state()` for buffers that have one
    (gmrl's `SyntheticReplayBuffer`: its generator and pool)."""
    extends = callable(getattr(buffer, "extra_state", None))
    if type(buffer) not in (ReplayBuffer, DictReplayBuffer) and not extends:
        raise CheckpointError(
            f"cannot checkpoint a {type(buffer).__name__}: gmrl saves ReplayBuffer, "
            "DictReplayBuffer and buffers with extra_state() (drop replay_buffer_class from params)"
        )
    filled = buffer.buffer_size if buffer.full else buffer.pos
    fields = {}
    for name in _BUFFER_FIELDS:
        value = getattr(buffer, name, None)
        if value is None:  # next_observations with optimize_memory_usage
            continue
        if isinstance(value, dict):
            fields[name] = {key: _tensor(array[:filled]) for key, array in value.items()}
        else:
            fields[name] = _tensor(value[:filled])
    state = {"pos": int(buffer.pos), "full": bool(buffer.full), "size": int(buffer.buffer_size),
             "fields": fields}
    if extends:
        state["extra"] = buffer.extra_state()
    return state


def _recorders(model: BaseAlgorithm) -> list[EpisodeRecorder] | None:
    env = model.get_env()
    if not isinstance(env, DummyVecEnv):
        return None
    if not all(isinstance(sub, EpisodeRecorder) for sub in env.envs):
        return None
    return [sub for sub in env.envs if isinstance(sub, EpisodeRecorder)]


def policy_tensors(model: BaseAlgorithm) -> dict[str, torch.Tensor]:
    """The policy's state dict under `policy.` and SB3's learned variables under `variables.`
    (copies: flat, as a safetensors file holds them)."""
    _, variables = model._get_torch_save_params()
    tensors = {f"policy.{key}": value.detach().clone()
               for key, value in model.policy.state_dict().items()}
    tensors.update({f"variables.{name}": _attr(model, name).detach().clone()
                    for name in variables})
    return tensors


# --------------------------------------------------------------------------- restore
def load_policy_tensors(model: BaseAlgorithm, tensors: dict[str, torch.Tensor]) -> None:
    """Put `policy_tensors` into a freshly built agent of the same config (a mismatch raises
    `RuntimeError` / `KeyError`, as `load_state_dict` does)."""
    prefix = "policy."
    model.policy.load_state_dict(
        {key[len(prefix):]: value for key, value in tensors.items() if key.startswith(prefix)})
    _, variables = model._get_torch_save_params()
    for name in variables:
        with torch.no_grad():
            _attr(model, name).copy_(tensors[f"variables.{name}"].to(get_device(model.device)))


def load_sb3_state(model: BaseAlgorithm, state: dict[str, Any]) -> None:
    """Put `state` (from `sb3_state`) into a freshly built agent of the same config.

    Call before `model.learn(..., reset_num_timesteps=False)`, then `restore_learn_state` once
    learning has started. Mismatching networks raise `RuntimeError`/`KeyError` (callers turn
    them into one line with `gmrl.core.checkpoint.restore_or_explain`).
    """
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise CheckpointError("not an SB3 agent state saved by this gmrl version: start a new run")
    modules, variables = model._get_torch_save_params()
    if sorted(modules) != sorted(state["modules"]):
        raise KeyError(f"saved parts {sorted(state['modules'])} != {sorted(modules)}")
    for name in modules:
        _attr(model, name).load_state_dict(state["modules"][name])
    for name in variables:
        with torch.no_grad():
            _attr(model, name).copy_(state["variables"][name].to(get_device(model.device)))
    for name, value in state["counters"].items():
        setattr(model, name, value)
    episodes = state["episodes"]
    if episodes["tracked"]:
        model.ep_info_buffer = deque(episodes["info"], maxlen=model._stats_window_size)
        model.ep_success_buffer = deque(episodes["success"], maxlen=model._stats_window_size)
    set_space_rng_state(model.action_space, state["action_space_rng"])
    if "replay_buffer" in state:
        _load_buffer(getattr(model, "replay_buffer", None), state["replay_buffer"])
    model._last_obs = None
    if "last_obs" in state:
        model._last_obs = _array(state["last_obs"])
        model._last_episode_starts = state["last_episode_starts"].numpy()
        _restore_envs(model, state)


def _load_buffer(buffer: Any, state: dict[str, Any]) -> None:
    if buffer is None or int(buffer.buffer_size) != int(state["size"]):
        raise ValueError(f"replay buffer of size {state['size']} does not fit this agent's")
    filled = int(state["size"]) if state["full"] else int(state["pos"])
    for name, saved in state["fields"].items():
        target = getattr(buffer, name)
        if isinstance(saved, dict):
            for key, tensor in saved.items():
                target[key][:filled] = tensor.numpy()
        else:
            target[:filled] = saved.numpy()
    buffer.pos, buffer.full = int(state["pos"]), bool(state["full"])
    if "extra" in state:
        if not callable(getattr(buffer, "load_extra_state", None)):
            raise KeyError(f"saved buffer state has extra parts {type(buffer).__name__} lacks")
        buffer.load_extra_state(state["extra"])


def _restore_envs(model: BaseAlgorithm, state: dict[str, Any]) -> None:
    """Replay each training env to its saved point; without recorders, start new episodes."""
    recorders = _recorders(model)
    env = model.get_env()
    if recorders is None or "envs" not in state or len(state["envs"]) != len(recorders):
        model._last_obs = None  # learn() resets the envs: the resumed run is not exact
        return
    assert isinstance(env, DummyVecEnv)
    for index, (recorder, saved) in enumerate(zip(recorders, state["envs"], strict=True)):
        env._save_obs(index, recorder.restore(saved))
    env._reset_seeds()
    env._reset_options()
    replayed: Any = env._obs_from_buf()
    if not same_observation(replayed, model._last_obs):
        warnings.warn(
            "the training env did not replay to its saved state (its dynamics depend on more "
            "than its seed and actions): the resumed run continues but is not exact",
            stacklevel=2,
        )
        model._last_obs = replayed


def restore_learn_state(model: BaseAlgorithm, state: dict[str, Any]) -> None:
    """What `learn()` resets on entry: the logger's pending values and action-noise state."""
    logger = model.logger
    saved = state.get("logger", {})
    for key, value in saved.get("values", {}).items():
        logger.name_to_value[key] = value
    for key, count in saved.get("counts", {}).items():
        logger.name_to_count[key] = count
    for key, excluded in saved.get("excluded", {}).items():
        logger.name_to_excluded[key] = tuple(excluded)
    noises = _noises(getattr(model, "action_noise", None))
    if state.get("noise") is not None and noises is not None:
        for item, prev in zip(noises, state["noise"], strict=True):
            item.noise_prev = prev.numpy().copy()
