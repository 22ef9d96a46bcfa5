"""The dream: a fitted `WorldModel` as a Gymnasium environment, so any SB3 agent can learn in it.

`DreamEnv` is a real `gymnasium.Env` (it passes `gymnasium.utils.env_checker.check_env`):
episodes start from real states (drawn from the states the agent has seen), every `step` asks
the world model for (next state, reward, terminated), and an episode is truncated after
`horizon` imagined steps or, optionally, as soon as the ensemble's disagreement exceeds
`uncertainty_threshold` (the model no longer knows what happens, so the rollout stops before
the agent learns from fantasy). Short horizons branched from real states are MBPO's recipe.

`DreamVecEnv` is the batched version as a Stable-Baselines3 `VecEnv`: `num_envs` imagined
rollouts advance in one world-model call, which is what makes imagined training fast.
"""

import json
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvObs, VecEnvStepReturn

from gmrl.worldmodel.base import WorldModel

StartStates = np.ndarray | Callable[[int, np.random.Generator], np.ndarray]


def _draw_starts(source: StartStates, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` start states from an array of real states or a sampler `(n, rng) -> states`."""
    if callable(source):
        return np.asarray(source(n, rng), dtype=np.float32)
    states = np.asarray(source, dtype=np.float32)
    if len(states) == 0:
        raise ValueError("DreamEnv needs at least one real start state")
    return states[rng.integers(0, len(states), size=n)]


def _to_model_action(action: np.ndarray, space: spaces.Space) -> torch.Tensor:
    if isinstance(space, spaces.Discrete):
        return torch.as_tensor(np.asarray(action).reshape(-1), dtype=torch.long)
    assert isinstance(space, spaces.Box)
    clipped = np.clip(np.asarray(action, dtype=np.float32), space.low, space.high)
    return torch.as_tensor(clipped.reshape(-1, *space.shape))


class _Dynamics:
    """Shared stepping logic: world model call, observation clipping, uncertainty, horizon."""

    def __init__(
        self,
        model: WorldModel,
        observation_space: spaces.Box,
        action_space: spaces.Space,
        uncertainty_threshold: float | None,
    ) -> None:
        if not isinstance(observation_space, spaces.Box):
            raise TypeError("DreamEnv needs a Box observation space")
        self.model, self.observation_space, self.action_space = (
            model,
            observation_space,
            action_space,
        )
        self.uncertainty_threshold = uncertainty_threshold

    def advance(
        self, obs: np.ndarray, action: np.ndarray, generator: torch.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Batched (next_obs, reward, terminated, too_uncertain) as NumPy arrays."""
        device = self.model.device
        obs_t = torch.as_tensor(obs, dtype=torch.float32, device=device)
        act_t = _to_model_action(action, self.action_space).to(device)
        with torch.no_grad():
            nxt, reward, terminated = self.model.step(obs_t, act_t, generator=generator)
            if self.uncertainty_threshold is not None:
                unsure = self.model.uncertainty(obs_t, act_t) > self.uncertainty_threshold
            else:
                unsure = torch.zeros(obs_t.shape[0], dtype=torch.bool)
        low, high = self.observation_space.low, self.observation_space.high
        next_obs = np.clip(nxt.cpu().numpy().reshape(obs.shape), low, high).astype(np.float32)
        return (
            next_obs,
            reward.cpu().numpy().astype(np.float32).reshape(-1),
            terminated.cpu().numpy().astype(bool).reshape(-1),
            unsure.cpu().numpy().reshape(-1),
        )


class DreamEnv(gym.Env):
    """One imagined environment stepping through a world model (a true `gymnasium.Env`).

    Args:
        world_model: a fitted `WorldModel`.
        start_states: real states `(n, *obs_shape)` to start episodes from, or a sampler
            `(n, rng) -> states` (e.g. the agent's growing transition store).
        observation_space, action_space: the real environment's spaces.
        horizon: imagined steps before truncation.
        uncertainty_threshold: truncate when the model's `uncertainty` exceeds it (None: never).
    """

    metadata = {"render_modes": []}  # noqa: RUF012 - Gymnasium's class attribute

    def __init__(
        self,
        world_model: WorldModel,
        start_states: StartStates,
        observation_space: spaces.Box,
        action_space: spaces.Space,
        *,
        horizon: int = 100,
        uncertainty_threshold: float | None = None,
    ) -> None:
        super().__init__()
        self.observation_space, self.action_space = observation_space, action_space
        self.start_states, self.horizon = start_states, horizon
        self._dynamics = _Dynamics(
            world_model, observation_space, action_space, uncertainty_threshold
        )
        self._generator = torch.Generator()
        self._state: np.ndarray | None = None
        self._t = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None:
            self._generator.manual_seed(seed)
        start = _draw_starts(self.start_states, 1, self.np_random)[0]
        box = self._dynamics.observation_space
        self._state = np.clip(start, box.low, box.high).astype(box.dtype)
        self._t = 0
        return self._state.copy(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        nxt, reward, terminated, unsure = self._dynamics.advance(
            self._state[None], np.asarray(action)[None], self._generator
        )
        self._t += 1
        self._state = nxt[0].astype(self._dynamics.observation_space.dtype)
        truncated = self._t >= self.horizon or bool(unsure[0])
        info = {"too_uncertain": bool(unsure[0])}
        return self._state.copy(), float(reward[0]), bool(terminated[0]), truncated, info


class DreamVecEnv(VecEnv):
    """`num_envs` imagined rollouts advanced in one world-model call (an SB3 `VecEnv`).

    Finished rollouts restart at once from a fresh real state, SB3-style: the last observation
    is in `infos[i]["terminal_observation"]` and truncations set `"TimeLimit.truncated"`, so
    off-policy agents bootstrap through horizon cut-offs correctly.
    """

    def __init__(
        self,
        world_model: WorldModel,
        start_states: StartStates,
        observation_space: spaces.Box,
        action_space: spaces.Space,
        *,
        num_envs: int = 64,
        horizon: int = 100,
        uncertainty_threshold: float | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(num_envs, observation_space, action_space)
        self.start_states, self.horizon = start_states, horizon
        self._dynamics = _Dynamics(
            world_model, observation_space, action_space, uncertainty_threshold
        )
        self._rng = np.random.default_rng(seed)
        self._generator = torch.Generator().manual_seed(seed)
        self._obs = np.zeros((num_envs, *observation_space.shape), dtype=np.float32)
        self._t = np.zeros(num_envs, dtype=np.int64)
        self._actions: np.ndarray | None = None

    def _starts(self, n: int) -> np.ndarray:
        start = _draw_starts(self.start_states, n, self._rng)
        box = self._dynamics.observation_space
        return np.clip(start, box.low, box.high)

    def reset(self) -> VecEnvObs:
        seeds = [s for s in self._seeds if s is not None]
        if seeds:
            self._rng = np.random.default_rng(seeds[0])
            self._generator.manual_seed(seeds[0])
        self._reset_seeds()
        self._obs = self._starts(self.num_envs).astype(np.float32)
        self._t[:] = 0
        return self._obs.copy()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        assert self._actions is not None, "step_async must come first"
        nxt, reward, terminated, unsure = self._dynamics.advance(
            self._obs, self._actions, self._generator
        )
        self._t += 1
        truncated = (self._t >= self.horizon) | unsure
        done = terminated | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        obs = nxt.copy()
        if done.any():
            rows = np.flatnonzero(done)
            for i in rows:
                infos[i]["terminal_observation"] = nxt[i].copy()
                infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            obs[rows] = self._starts(len(rows))
            self._t[rows] = 0
        self._obs = obs
        return obs.copy(), reward, done, infos

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Random streams, current imagined states and pending seeds (for exact resume)."""
        return {
            "rng": json.dumps(self._rng.bit_generator.state),
            "generator": self._generator.get_state(),
            "obs": torch.as_tensor(self._obs).clone(),
            "t": torch.as_tensor(self._t).clone(),
            "seeds": [-1 if s is None else int(s) for s in self._seeds],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._rng.bit_generator.state = json.loads(state["rng"])
        self._generator.set_state(state["generator"])
        self._obs = state["obs"].numpy().copy()
        self._t = state["t"].numpy().copy()
        self._seeds = [None if s < 0 else int(s) for s in state["seeds"]]

    def close(self) -> None:
        return None

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self, attr_name, None) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self, attr_name, value)

    def env_method(
        self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any
    ) -> list[Any]:
        return [getattr(self, method_name)(*args, **kwargs) for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def _get_indices(self, indices: Any) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        return [indices] if isinstance(indices, int) else list(indices)
