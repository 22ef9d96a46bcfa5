"""Q-learning and SARSA: one-step temporal-difference control on a table of action values.

Both learn `Q[s, a]` by epsilon-greedy interaction with a Gymnasium env whose observation and
action spaces are `Discrete`. They differ only in the bootstrap target:

- Q-learning (off-policy): `r + gamma * max_a' Q[s', a']`, so it learns the greedy policy's
  values while exploring;
- SARSA (on-policy): `r + gamma * Q[s', a']` with `a'` the action actually taken next, so it
  learns the values of the epsilon-greedy policy it follows (and prefers safe paths while
  exploration is on, e.g. away from the cliff in CliffWalking).

Truncation (a time limit) ends the episode but still bootstraps; only `terminated` stops it.
Step size and epsilon follow per-episode schedules (see `schedules`), computed as arrays up front;
random numbers are drawn in blocks. The env is stepped one transition at a time: a Gymnasium env
is sequential, and the per-step work here is a few array lookups.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from gmrl.core.errors import ConfigError, EnvError
from gmrl.rl.env_state import env_rng_state, generator_state, set_env_rng_state
from gmrl.rl.tabular.schedules import Schedule, schedule_values


@dataclass
class TabularResult:
    """What a tabular learner returns.

    `q` is the `(n_states, n_actions)` action-value table, `policy` its greedy policy
    (`q.argmax(1)`, ties to the lowest action), `episode_returns` / `episode_lengths` the
    undiscounted return and length of each training episode (for learning curves).
    """

    q: np.ndarray
    policy: np.ndarray
    episode_returns: np.ndarray
    episode_lengths: np.ndarray

    @property
    def episodes(self) -> int:
        """How many episodes were run (fewer than asked if a callback stopped training)."""
        return len(self.episode_returns)


@dataclass(frozen=True)
class EpisodeStats:
    """Passed to the per-episode callback after each training episode."""

    episode: int
    episode_return: float
    length: int
    epsilon: float
    alpha: float
    q: np.ndarray  # the live table: read it, do not modify it


# Called after every episode; returning False stops training early (e.g. on Ctrl-C).
EpisodeCallback = Callable[[EpisodeStats], bool | None]


def discrete_sizes(env: gym.Env) -> tuple[int, int]:
    """`(n_states, n_actions)` of an env with Discrete spaces, or a one-line `EnvError`."""
    obs_space, act_space = env.observation_space, env.action_space
    if not isinstance(obs_space, gym.spaces.Discrete) or not isinstance(
        act_space, gym.spaces.Discrete
    ):
        name = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
        raise EnvError(
            f"tabular methods need Discrete observation and action spaces, but {name} has "
            f"{obs_space} and {act_space}; use a toy-text env (FrozenLake-v1, CliffWalking-v1, "
            "Taxi-v3) or a function-approximation agent"
        )
    if obs_space.start != 0 or act_space.start != 0:
        raise EnvError("tabular methods need Discrete spaces that start at 0")
    return int(obs_space.n), int(act_space.n)


class _RandomBlock:
    """Uniform floats and action indices drawn from a numpy Generator in blocks of 4096."""

    def __init__(self, rng: np.random.Generator, n_actions: int, size: int = 4096) -> None:
        self.rng, self.n_actions, self.size = rng, n_actions, size
        self._refill()

    def _refill(self) -> None:
        self.block_start = generator_state(self.rng)  # what `state()` needs to redraw this block
        self.uniform = self.rng.random(self.size)
        self.actions = self.rng.integers(self.n_actions, size=self.size)
        self.index = 0

    def next(self) -> tuple[float, int]:
        if self.index == self.size:
            self._refill()
        i = self.index
        self.index += 1
        return float(self.uniform[i]), int(self.actions[i])

    def state(self) -> dict[str, Any]:
        return {"block_start": self.block_start, "index": self.index}

    def load_state(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["block_start"]
        self._refill()
        self.index = int(state["index"])


def _epsilon_greedy(row: np.ndarray, epsilon: float, draws: _RandomBlock) -> int:
    """Random action with probability epsilon, else a greedy one (ties broken at random)."""
    u, random_action = draws.next()
    if u < epsilon:
        return random_action
    best = np.flatnonzero(row == row.max())
    return int(best[0]) if len(best) == 1 else int(best[random_action % len(best)])


@dataclass
class _Episode:
    """Where `TDLearner.step` is within an episode."""

    step_size: float
    epsilon: float
    state: int
    action: int
    steps: int = 0
    total: float = 0.0


class TDLearner:
    """Q-learning (`on_policy=False`) or SARSA (`on_policy=True`), by episodes or by steps.

    `q_learning` / `sarsa` run it to the end; a recipe calls `run_episode()` itself and can
    checkpoint between episodes: `state_dict()` holds the table, the per-episode history, the
    exploration generator's position and the env's generator, so `load_state_dict` on a fresh
    learner (same env, same arguments) continues exactly as the saved one would have.

    `step()` advances one env step instead (the agent contract's `learn` counts steps, see
    `gmrl.rl.tabular.agent`); stepping through an episode draws the same random numbers and
    makes the same updates as `run_episode`. The schedules cover `episodes` episodes; a learner
    stepped past them keeps their last values and goes on recording each episode.
    `env` may be None for a learner that only holds a table (`sizes=(n_states, n_actions)`).
    """

    def __init__(
        self, env: gym.Env | None, *, on_policy: bool, episodes: int, gamma: float = 0.99,
        alpha: float | Schedule = 0.1, epsilon: float | Schedule = 0.1, seed: int = 0,
        q_init: float = 0.0, max_episode_steps: int | None = None,
        sizes: tuple[int, int] | None = None,
    ) -> None:
        if env is not None:
            n_states, n_actions = discrete_sizes(env)
        elif sizes is not None:
            n_states, n_actions = int(sizes[0]), int(sizes[1])
        else:
            raise ConfigError("TDLearner needs an env, or sizes=(n_states, n_actions) without one")
        if episodes < 1:
            raise ConfigError(f"episodes must be at least 1, got {episodes}")
        if not 0.0 <= gamma <= 1.0:
            raise ConfigError(f"gamma must be in [0, 1], got {gamma}")
        self.env, self.on_policy, self.episodes, self.gamma = env, on_policy, episodes, gamma
        self.seed = seed
        self.alphas = schedule_values(alpha, episodes, name="alpha", low=0.0, high=1.0)
        self.epsilons = schedule_values(epsilon, episodes, name="epsilon", low=0.0, high=1.0)
        self.draws = _RandomBlock(np.random.default_rng(seed), n_actions)
        self.q = np.full((n_states, n_actions), float(q_init))
        self.returns = np.zeros(episodes)
        self.lengths = np.zeros(episodes, dtype=np.int64)
        self.max_episode_steps = max_episode_steps
        self.limit = max_episode_steps if max_episode_steps is not None else np.iinfo(np.int64).max
        self.episode = 0  # episodes run so far
        self.reset_seed: int | None = seed  # the next reset's seed (only the first is seeded)
        self._current: _Episode | None = None  # the episode `step()` is in the middle of

    @property
    def done(self) -> bool:
        return self.episode >= self.episodes

    @property
    def in_episode(self) -> bool:
        """Whether `step()` left an episode unfinished (`run_episode` finishes it first)."""
        return self._current is not None

    def schedule_at(self, episode: int) -> tuple[float, float]:
        """`(alpha, epsilon)` of an episode (the last scheduled values past the schedule)."""
        index = min(episode, self.episodes - 1)
        return float(self.alphas[index]), float(self.epsilons[index])

    def run_episode(self) -> EpisodeStats:
        """Run the next training episode (or the rest of one begun by `step`); its statistics."""
        while True:
            stats = self.step()
            if stats is not None:
                return stats

    def step(self) -> EpisodeStats | None:
        """One env step with its TD update; the episode's statistics when it ended, else None."""
        if self.env is None:
            raise EnvError("this tabular learner has no env to learn in: give it one")
        current, q, draws = self._current, self.q, self.draws
        if current is None:
            current = self._current = self._begin()
        step_size, eps = current.step_size, current.epsilon
        state, action = current.state, current.action
        next_obs, reward, terminated, truncated, _ = self.env.step(action)
        next_state = int(next_obs)
        current.steps += 1
        current.total += float(reward)
        next_action = _epsilon_greedy(q[next_state], eps, draws)
        if terminated:
            bootstrap = 0.0
        elif self.on_policy:
            bootstrap = q[next_state, next_action]
        else:
            bootstrap = q[next_state].max()
        q[state, action] += step_size * (
            float(reward) + self.gamma * bootstrap - q[state, action]
        )
        current.state, current.action = next_state, next_action
        if not (terminated or truncated or current.steps >= self.limit):
            return None
        return self._finish(current)

    def _begin(self) -> _Episode:
        index = min(self.episode, self.episodes - 1)
        step_size, eps = self.alphas[index], self.epsilons[index]
        assert self.env is not None
        state = int(self.env.reset(seed=self.reset_seed)[0])
        self.reset_seed = None
        action = _epsilon_greedy(self.q[state], eps, self.draws)
        return _Episode(step_size, eps, state, action)

    def _finish(self, current: _Episode) -> EpisodeStats:
        episode = self.episode
        if episode >= len(self.returns):  # stepped past the schedule: the history grows
            self.returns = np.append(self.returns, 0.0)
            self.lengths = np.append(self.lengths, 0)
        self.returns[episode], self.lengths[episode] = current.total, current.steps
        self.episode += 1
        self._current = None
        return EpisodeStats(episode, current.total, current.steps, float(current.epsilon),
                            float(current.step_size), self.q)

    def result(self) -> TabularResult:
        """The table, its greedy policy and the history of the episodes run so far."""
        n = self.episode
        return TabularResult(self.q, self.q.argmax(axis=1), self.returns[:n], self.lengths[:n])

    def state_dict(self) -> dict[str, Any]:
        """Everything the remaining episodes depend on (tensors and JSON values)."""
        import torch

        return {
            "q": torch.from_numpy(self.q.copy()), "returns": torch.from_numpy(self.returns.copy()),
            "lengths": torch.from_numpy(self.lengths.copy()), "episode": self.episode,
            "draws": self.draws.state(),
            "env_rng": env_rng_state(self.env) if self.env is not None else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict()` (taken between episodes) into a learner of the same table."""
        q = state["q"].numpy()
        if q.shape != self.q.shape or len(state["returns"]) < self.episodes:
            raise ValueError(f"saved table {tuple(q.shape)} over {len(state['returns'])} "
                             f"episodes does not fit {self.q.shape} over {self.episodes}")
        self.q[:] = q
        self.returns = state["returns"].numpy().copy()
        self.lengths = state["lengths"].numpy().copy()
        self.episode = int(state["episode"])
        self.draws.load_state(state["draws"])
        if self.env is not None and state.get("env_rng") is not None:
            set_env_rng_state(self.env, state["env_rng"])
        self.reset_seed = self.seed if self.episode == 0 else None
        self._current = None


def _td_control(
    env: gym.Env, *, on_policy: bool, episodes: int, gamma: float, alpha: float | Schedule,
    epsilon: float | Schedule, seed: int, q_init: float, max_episode_steps: int | None,
    callback: EpisodeCallback | None,
) -> TabularResult:
    learner = TDLearner(
        env, on_policy=on_policy, episodes=episodes, gamma=gamma, alpha=alpha, epsilon=epsilon,
        seed=seed, q_init=q_init, max_episode_steps=max_episode_steps,
    )
    while not learner.done:
        stats = learner.run_episode()
        if callback is not None and callback(stats) is False:
            break
    return learner.result()


def q_learning(
    env: gym.Env, *, episodes: int, gamma: float = 0.99, alpha: float | Schedule = 0.1,
    epsilon: float | Schedule = 0.1, seed: int = 0, q_init: float = 0.0,
    max_episode_steps: int | None = None, callback: EpisodeCallback | None = None,
) -> TabularResult:
    """Off-policy TD control (Watkins' Q-learning) with epsilon-greedy exploration.

    Args:
        env: a Gymnasium env with Discrete observation and action spaces (not closed here).
        episodes: number of training episodes.
        gamma: discount factor in [0, 1].
        alpha: step size, a number or a per-episode `Schedule` (Constant, Linear, Exponential).
        epsilon: exploration rate, a number or a per-episode `Schedule`.
        seed: seeds the env (`env.reset(seed=seed)` on the first episode) and the numpy
            Generator used for exploration and tie-breaking, so a run is reproducible.
        q_init: initial value of every table entry (optimistic values encourage exploration).
        max_episode_steps: cut episodes after this many steps (for envs without a time limit);
            a cut episode bootstraps like a truncated one.
        callback: called with `EpisodeStats` after every episode; returning False stops.

    Returns:
        `TabularResult` with the Q table, its greedy policy and per-episode returns/lengths.
    """
    return _td_control(
        env, on_policy=False, episodes=episodes, gamma=gamma, alpha=alpha, epsilon=epsilon,
        seed=seed, q_init=q_init, max_episode_steps=max_episode_steps, callback=callback,
    )


def sarsa(
    env: gym.Env, *, episodes: int, gamma: float = 0.99, alpha: float | Schedule = 0.1,
    epsilon: float | Schedule = 0.1, seed: int = 0, q_init: float = 0.0,
    max_episode_steps: int | None = None, callback: EpisodeCallback | None = None,
) -> TabularResult:
    """On-policy TD control (SARSA) with epsilon-greedy exploration.

    Same arguments and result as `q_learning`; the target uses the next action actually taken,
    so the learned values are those of the exploring policy. With epsilon kept above zero this
    favours paths that are safe under exploration; let epsilon decay to (near) zero for SARSA to
    approach the optimal greedy policy.
    """
    return _td_control(
        env, on_policy=True, episodes=episodes, gamma=gamma, alpha=alpha, epsilon=epsilon,
        seed=seed, q_init=q_init, max_episode_steps=max_episode_steps, callback=callback,
    )
