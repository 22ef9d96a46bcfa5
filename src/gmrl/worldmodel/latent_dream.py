"""The latent dream as an SB3 `VecEnv`, and a controller that acts in the real env from frames.

`LatentDreamVecEnv` steps `num_envs` dreams at once through `LatentWorldModel.step` (one batched
call per step, no Python loop over envs). Observations are the latent states `[z, h]`; episodes
start from latent states of real episodes, end when the model samples a termination, and are
truncated after `horizon` steps (reported to SB3 as `TimeLimit.truncated`, so PPO bootstraps
instead of treating the cut as a failure). Finished dreams report `info["episode"]` like SB3's
Monitor, so `model.ep_info_buffer` holds dream returns.

`LatentController` runs any `predict(obs) -> action` policy (an SB3 model trained in the dream,
or a planner) in the real pixel env: it keeps the latent state with `observe`, so the policy sees
in reality exactly the kind of vector it saw in the dream.
"""

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv

from gmrl.worldmodel.latent_model import Episode, LatentWorldModel


class LatentDreamVecEnv(VecEnv):
    """`num_envs` dreams in a `LatentWorldModel`, stepped as one batch."""

    def __init__(
        self,
        model: LatentWorldModel,
        start_states: torch.Tensor,
        action_space: spaces.Space,
        *,
        num_envs: int = 16,
        horizon: int = 200,
        generator: torch.Generator | None = None,
    ) -> None:
        if len(start_states) == 0:
            raise ValueError("the dream needs at least one start state")
        bound = np.full(model.state_dim, np.inf, dtype=np.float32)
        observation_space = spaces.Box(-bound, bound, dtype=np.float32)
        self.render_mode = None
        super().__init__(num_envs, observation_space, action_space)
        self.model, self.horizon = model, horizon
        self.start_states = start_states.to(model.device)
        self.generator = generator or torch.Generator().manual_seed(0)
        self.discrete = isinstance(action_space, spaces.Discrete)
        self._state = self._draw_starts(num_envs)
        self._steps = torch.zeros(num_envs, dtype=torch.long)
        self._returns = np.zeros(num_envs)
        self._actions: np.ndarray | None = None

    def _draw_starts(self, n: int) -> torch.Tensor:
        index = torch.randint(len(self.start_states), (n,), generator=self.generator)
        return self.start_states[index.to(self.start_states.device)].clone()

    def reset(self) -> np.ndarray:
        self._state = self._draw_starts(self.num_envs)
        self._steps.zero_()
        self._returns[:] = 0.0
        return self._state.cpu().numpy().astype(np.float32)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        dtype = torch.long if self.discrete else torch.float32
        action = torch.as_tensor(np.asarray(self._actions), dtype=dtype)
        if self.discrete:
            action = action.reshape(self.num_envs)
        next_state, reward, terminated = self.model.step(
            self._state, action, generator=self.generator
        )
        self._steps += 1
        terminated = terminated.cpu()
        truncated = (self._steps >= self.horizon) & ~terminated
        done = terminated | truncated
        next_obs = next_state.cpu().numpy().astype(np.float32)
        rewards = reward.cpu().numpy().astype(np.float32)
        self._returns += rewards
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if done.any():
            rows = torch.nonzero(done).flatten()
            for i in rows.tolist():
                infos[i] = {
                    "terminal_observation": next_obs[i].copy(),
                    "TimeLimit.truncated": bool(truncated[i]),
                    "episode": {"r": float(self._returns[i]), "l": int(self._steps[i])},
                }
            self._returns[rows.numpy()] = 0.0
            next_state[rows.to(next_state.device)] = self._draw_starts(len(rows))
            self._steps[rows] = 0
            next_obs = next_state.cpu().numpy().astype(np.float32)
        self._state = next_state
        return next_obs, rewards, done.numpy(), infos

    # ------------------------------------------------------------------ VecEnv boilerplate
    def close(self) -> None:
        pass

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self, attr_name)] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self, attr_name, value)

    def env_method(
        self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any
    ) -> list[Any]:
        return [getattr(self, method_name)(*args, **kwargs) for _ in self._indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * len(self._indices(indices))

    def _indices(self, indices: Any) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        return [indices] if isinstance(indices, int) else list(indices)


Policy = Callable[[np.ndarray], np.ndarray]


def record_episode(
    env: gym.Env, choose_action: Callable[[np.ndarray], Any], seed: int | None = None
) -> tuple[Episode, int]:
    """Play one real episode, choosing each action from the latest frame; keep what was seen.

    Returns the episode and the underlying env steps taken: `info["env_steps"]` (set by
    `PixelObservation` under action repeat), one per call of `env.step` by default.
    """
    frame, _ = env.reset(seed=seed)
    frames, actions, rewards, terminals = [frame], [], [], []
    env_steps = 0
    while True:
        action = choose_action(frame)
        frame, reward, terminated, truncated, info = env.step(action)
        env_steps += int(info.get("env_steps", 1))
        frames.append(frame)
        actions.append(action)
        rewards.append(reward)
        terminals.append(terminated)
        if terminated or truncated:
            break
    episode = Episode(
        frames=torch.as_tensor(np.stack(frames)),
        actions=torch.as_tensor(np.stack(actions)),
        rewards=torch.tensor(rewards, dtype=torch.float32),
        terminated=torch.tensor(terminals, dtype=torch.bool),
    )
    return episode, env_steps


class LatentController:
    """Acts in a real pixel env with a latent-state policy, recording what it saw."""

    def __init__(self, model: LatentWorldModel, policy: Policy) -> None:
        self.model, self.policy = model, policy

    def run_episode(self, env: gym.Env, seed: int | None = None) -> tuple[Episode, float, int]:
        """One real episode: (the episode, its return, underlying env steps taken).

        The latent state starts from the first frame and is advanced with `observe` on every
        later frame and the action that led to it, before the policy picks the next action.
        """
        state: torch.Tensor | None = None
        last_action: Any = None

        def choose_action(frame: np.ndarray) -> Any:
            nonlocal state, last_action
            seen = torch.as_tensor(frame)[None]
            if state is None:
                state = self.model.initial_state(seen)
            else:
                state = self.model.observe(state, torch.as_tensor(last_action)[None], seen)
            last_action = np.asarray(self.policy(state.cpu().numpy().astype(np.float32)))[0]
            return last_action

        episode, env_steps = record_episode(env, choose_action, seed)
        return episode, float(episode.rewards.sum()), env_steps
