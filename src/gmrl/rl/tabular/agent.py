"""Q-learning and SARSA on gmrl's agent contract (`gmrl.core.agent.Agent`).

```python
agent = QLearningAgent(gym.make("FrozenLake-v1"), episodes=2_000, alpha=0.5,
                       epsilon=Linear(1.0, 0.0, fraction=0.8), seed=0)
agent.learn(total_timesteps=20_000)                   # env steps, not episodes
action, _ = agent.predict(np.array([0, 4, 8]))        # greedy actions for three states
agent.save("runs/frozenlake_q")                       # config.json + the table as safetensors
agent = QLearningAgent.load("runs/frozenlake_q")      # acts without an env; learns with one
```

A thin layer over `TDLearner`, stepping it one env step at a time:

- `learn(total_timesteps)` takes exactly that many more env steps; an episode still running when
  the budget is spent is cut there and continued by the next `learn` call. `episodes` only sets
  the length of the `alpha` / `epsilon` schedules (per episode, as for `q_learning`): past it
  they keep their last values. The callback runs after every step.
- `predict(obs)` is greedy on the table (`Q[s].argmax()`, ties to the lowest action) for one
  integer state or a batch; `deterministic=False` acts epsilon-greedily with the current
  episode's epsilon (from its own generator: acting never moves training's random numbers).
- `save` writes the table, the whole alpha / epsilon schedules and the episode history as
  tensors, the settings as JSON; a loaded agent acts at once, and given an env (the same
  spaces) goes on learning from a new episode, its schedules where they were.
"""

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch

from gmrl.core.agent import Agent, Callback
from gmrl.core.errors import CheckpointError, ConfigError, EnvError
from gmrl.core.seeding import derive_seed, numpy_rng
from gmrl.rl.contract import check_env_spaces, saved_config
from gmrl.rl.tabular.schedules import Constant, Exponential, Linear, Schedule
from gmrl.rl.tabular.td import TDLearner

_SCHEDULES: dict[str, type] = {"constant": Constant, "linear": Linear,
                               "exponential": Exponential}


def as_rate(value: Any, name: str) -> float | Schedule:
    """A number, a schedule, or a JSON schedule spec (`{type: linear, start: 1, end: 0}`)."""
    if isinstance(value, dict):
        spec = dict(value)
        kind = str(spec.pop("type", "")).lower()
        if kind not in _SCHEDULES:
            raise ConfigError(f"{name} schedule type '{kind}' is unknown (choose from: "
                              f"{', '.join(_SCHEDULES)})")
        try:
            schedule: Schedule = _SCHEDULES[kind](**spec)
        except TypeError as exc:
            raise ConfigError(f"{name} schedule: {exc}") from exc
        return schedule
    return value


class TabularAgent(Agent):
    """A `TDLearner` behind the agent contract (`QLearningAgent`, `SarsaAgent`).

    Args:
        env: a Gymnasium env with Discrete observations and actions (None: an agent that only
            acts, e.g. loaded; then `sizes=(n_states, n_actions)`).
        episodes: length of the per-episode `alpha` / `epsilon` schedules.
        gamma, alpha, epsilon, q_init, max_episode_steps: as for `q_learning` (`alpha` and
            `epsilon` may also be JSON schedule specs, e.g. `{"type": "linear", "start": 1.0,
            "end": 0.0}`).
        seed: the first episode's reset seed and the exploration generator's.
    """

    on_policy: ClassVar[bool]

    def __init__(
        self, env: gym.Env | None = None, *, episodes: int = 1_000, gamma: float = 0.99,
        alpha: float | Schedule | dict[str, Any] = 0.1,
        epsilon: float | Schedule | dict[str, Any] = 0.1, seed: int = 0, q_init: float = 0.0,
        max_episode_steps: int | None = None, sizes: tuple[int, int] | None = None,
    ) -> None:
        if env is None and sizes is None:
            raise EnvError(
                f"the {self.name} agent needs an env with Discrete observations and actions "
                "(FrozenLake-v1, CliffWalking-v1, Taxi-v3), or sizes=(n_states, n_actions) to "
                "only act"
            )
        self.learner = TDLearner(
            env, on_policy=self.on_policy, episodes=episodes, gamma=gamma,
            alpha=as_rate(alpha, "alpha"), epsilon=as_rate(epsilon, "epsilon"), seed=seed,
            q_init=q_init, max_episode_steps=max_episode_steps, sizes=sizes,
        )
        self.q_init = float(q_init)
        self.num_timesteps = 0
        self._explore = numpy_rng(seed, "tabular_predict")

    @property
    def env(self) -> gym.Env | None:
        return self.learner.env

    @property
    def q(self) -> np.ndarray:
        """The `(n_states, n_actions)` action-value table (live: read it, do not modify it)."""
        return self.learner.q

    def learn(self, total_timesteps: int, callback: Callback | None = None) -> "TabularAgent":
        """Take exactly `total_timesteps` more env steps, updating the table after each."""
        for _ in range(int(total_timesteps)):
            self.learner.step()
            self.num_timesteps += 1
            if callback is not None and callback(self) is False:
                break
        return self

    def predict(
        self, observation: Any, state: Any = None, episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """Greedy actions for one integer state or a batch (epsilon-greedy if not deterministic).

        `state` and `episode_start` are accepted for SB3's signature and unused (no memory).
        """
        states = np.asarray(observation, dtype=np.int64)
        n_states, n_actions = self.q.shape
        if states.size and (states.min() < 0 or states.max() >= n_states):
            raise ValueError(f"observations must be states in [0, {n_states}), got {observation}")
        actions = self.q[states].argmax(axis=-1)
        if not deterministic:
            _, epsilon = self.learner.schedule_at(self.learner.episode)
            explore = self._explore.random(states.shape) < epsilon
            actions = np.where(explore, self._explore.integers(n_actions, size=states.shape),
                               actions)
        return np.asarray(actions, dtype=np.int64), None

    # ------------------------------------------------------------------ save / load
    def _config_json(self) -> dict[str, Any]:
        learner = self.learner
        return {
            "n_states": int(self.q.shape[0]), "n_actions": int(self.q.shape[1]),
            "episodes": learner.episodes, "gamma": learner.gamma, "seed": learner.seed,
            "q_init": self.q_init, "max_episode_steps": learner.max_episode_steps,
            "episode": learner.episode, "num_timesteps": self.num_timesteps,
        }

    def _tensors(self) -> dict[str, torch.Tensor]:
        learner = self.learner
        return {"q": torch.from_numpy(self.q.copy()),
                "alphas": torch.from_numpy(learner.alphas.copy()),
                "epsilons": torch.from_numpy(learner.epsilons.copy()),
                "returns": torch.from_numpy(learner.returns.copy()),
                "lengths": torch.from_numpy(learner.lengths.copy())}

    @classmethod
    def _from_saved(cls, config: dict[str, Any], tensors: dict[str, torch.Tensor],
                    env: Any) -> "TabularAgent":
        with saved_config(cls.name):
            sizes = (int(config["n_states"]), int(config["n_actions"]))
            q, alphas, epsilons = (tensors[k].numpy() for k in ("q", "alphas", "epsilons"))
            episodes = int(config["episodes"])
            if q.shape != sizes or alphas.shape != (episodes,) or epsilons.shape != (episodes,):
                raise ValueError(f"tensors {q.shape}, {alphas.shape}, {epsilons.shape} do not "
                                 f"fit {sizes} over {episodes} episodes")
            if env is not None:
                check_env_spaces(env, gym.spaces.Discrete(sizes[0]),
                                 gym.spaces.Discrete(sizes[1]), cls.name)
            agent = cls(env, episodes=episodes, gamma=float(config["gamma"]),
                        seed=int(config["seed"]), q_init=float(config["q_init"]),
                        max_episode_steps=config["max_episode_steps"], sizes=sizes)
            learner = agent.learner
            learner.q[:] = q
            learner.alphas, learner.epsilons = alphas.copy(), epsilons.copy()
            learner.returns = tensors["returns"].numpy().copy()
            learner.lengths = tensors["lengths"].numpy().copy()
            learner.episode = int(config["episode"])
            agent.num_timesteps = int(config["num_timesteps"])
        # a loaded agent's next episode gets a seed of its own (the saved env is not replayed)
        learner.reset_seed = derive_seed(learner.seed, f"tabular_episode_{learner.episode}")
        if not np.isfinite(learner.q).all():
            raise CheckpointError(f"saved {cls.name} table holds non-finite values")
        return agent


class QLearningAgent(TabularAgent):
    """Q-learning (off-policy TD control) on the agent contract; see the module docstring."""

    name = "q_learning"
    on_policy = False


class SarsaAgent(TabularAgent):
    """SARSA (on-policy TD control) on the agent contract; see the module docstring."""

    name = "sarsa"
    on_policy = True
