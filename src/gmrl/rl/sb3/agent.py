"""Stable-Baselines3 agents on gmrl's agent contract, saved without SB3's zip (no pickle).

```python
agent = SB3Agent(gym.make("CartPole-v1"), "ppo", {"n_steps": 256, "n_envs": 4}, seed=0)
agent.learn(total_timesteps=50_000)
action, _ = agent.predict(obs, deterministic=True)
agent.save("runs/cartpole_ppo")                  # config.json + weights.safetensors + manifest
agent = SB3Agent.load("runs/cartpole_ppo")       # rebuilt by make_sb3_agent, tensors loaded
```

`SB3Agent` holds the algorithm `make_sb3_agent` builds (as `model`: PPO, A2C, DQN, SAC, TD3),
on its own copies of the env (`make_sb3_vec_env`), made from an id or from the `spec` of an env
made by `gymnasium.make`:

- `learn(total_timesteps)` is `model.learn(total_timesteps, reset_num_timesteps=False)`: that
  many more env steps, rounded up by SB3 to whole rollouts (on-policy) or `train_freq` chunks;
  the callback runs after every vector-env step (returning False stops, as in SB3);
- `predict` is the model's own `predict` (SB3's signature, recurrent state and all);
- the seed decides everything: SB3 draws from the global Python, NumPy and torch generators, so
  the agent keeps its own copy of them (`gmrl.core.seeding.OwnedGlobalRng`, seeded with `seed`)
  and swaps it in around building the model and every `learn` (the callback runs inside, so
  what it draws from the globals comes from that copy too); sampled predictions draw from a
  second copy. The caller's global generators are left as they were;
- `save` writes the policy's state dict (its target networks included) and SB3's learned
  variables (SAC's entropy coefficient) as safetensors (`gmrl.rl.sb3.state.policy_tensors`),
  and the algorithm, hyper-parameters, env id and arguments, seed, step count and spaces as
  JSON. Optimizer moments and the replay buffer are not saved: a loaded agent acts exactly as
  the saved one and learns on from an empty buffer. (`save_sb3_agent` keeps the complete
  training state, for exact resumption, in one artifact file.)
- `load` rebuilds the algorithm with `make_sb3_agent` from the saved config and loads the
  tensors; a given env must have the saved spaces (its `spec`, when it has one, is then what the
  training copies are made from). A `replay_buffer_class` named in the params (plain JSON,
  so it can be saved) is one of `replay_buffers()`: none here; a subclass that brings its own
  buffer maps its name (`gmrl.synthetic.agent.SyntheticAgent`: "synthetic").
"""

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from pydantic import BaseModel
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback

from gmrl.core.agent import Agent, Callback
from gmrl.core.seeding import OwnedGlobalRng, derive_seed
from gmrl.rl.contract import (
    check_env_spaces,
    env_source,
    json_ready,
    restore_weights,
    saved_config,
    space_from_json,
    space_json,
)
from gmrl.rl.sb3.factory import ReplayBuffers, make_sb3_agent
from gmrl.rl.sb3.state import load_policy_tensors, policy_tensors


class _EveryStep(BaseCallback):
    """Calls the contract's callback with the agent after every vector-env step."""

    def __init__(self, agent: "SB3Agent", callback: Callback) -> None:
        super().__init__()
        self.agent, self.callback = agent, callback

    def _on_step(self) -> bool:
        return self.callback(self.agent) is not False


class SB3Agent(Agent):
    """An SB3 algorithm built by `make_sb3_agent`, on the agent contract (see the module).

    Args:
        env: a Gymnasium id, or an env made by `gymnasium.make` (its spec is copied).
        algo: ppo, a2c, dqn, sac or td3.
        params: hyper-parameters, passed through as for `make_sb3_agent` (plain values: names
            such as `activation_fn: tanh` rather than classes, so that they can be saved).
        env_kwargs, seed, device, verbose: as for `make_sb3_agent`.
    """

    name = "sb3"

    def __init__(
        self, env: str | gym.Env | None = None, algo: str = "ppo",
        params: dict[str, Any] | BaseModel | None = None, *,
        env_kwargs: dict[str, Any] | None = None, seed: int = 0, device: str = "auto",
        verbose: int = 0,
    ) -> None:
        self.env_id, self.env_kwargs = env_source(env, env_kwargs, f"the {algo} agent")
        if isinstance(params, BaseModel):
            params = params.model_dump(mode="json", exclude={"algo"}, exclude_unset=True)
        self.algo, self.params, self.seed = algo, dict(params or {}), int(seed)
        # SB3 draws from the global generators (initial weights, action samples, minibatches,
        # exploration): it draws from the agent's own copy of them, swapped in around each call
        self._rng = OwnedGlobalRng(self.seed)
        self._predict_rng = OwnedGlobalRng(derive_seed(self.seed, "sb3.predict"))
        with self._rng.active():
            self.model: BaseAlgorithm = make_sb3_agent(
                algo, self.env_id, self.params, env_kwargs=self.env_kwargs, seed=seed,
                device=device, verbose=verbose,
                replay_buffers=self.replay_buffers())

    @classmethod
    def replay_buffers(cls) -> ReplayBuffers:
        """The replay buffer classes `params.replay_buffer_class` may name (none here)."""
        return {}

    @property
    def num_timesteps(self) -> int:
        """Env steps taken in training so far (SB3's counter)."""
        return int(self.model.num_timesteps)

    @num_timesteps.setter
    def num_timesteps(self, value: int) -> None:
        self.model.num_timesteps = int(value)

    def learn(self, total_timesteps: int, callback: Callback | None = None) -> "SB3Agent":
        """`total_timesteps` more env steps of SB3's `learn` (see the module docstring)."""
        with self._rng.active():
            self.model.learn(int(total_timesteps), reset_num_timesteps=False,
                             callback=None if callback is None else _EveryStep(self, callback))
        return self

    def predict(
        self, observation: Any, state: Any = None, episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """The model's `predict` for one observation or a batch (a sample, when not
        deterministic, drawn from a stream of the agent's own, apart from training's)."""
        if deterministic:
            return self.model.predict(observation, state, episode_start, deterministic)
        with self._predict_rng.active():
            return self.model.predict(observation, state, episode_start, deterministic)

    def close(self) -> None:
        """Close the training envs."""
        env = self.model.get_env()
        if env is not None:
            env.close()

    # ------------------------------------------------------------------ save / load
    def _config_json(self) -> dict[str, Any]:
        return {
            "algo": self.algo, "env_id": self.env_id,
            "env_kwargs": json_ready(self.env_kwargs, f"the {self.algo} agent's env_kwargs"),
            "params": json_ready(self.params, f"the {self.algo} agent's params"),
            "seed": self.seed, "num_timesteps": self.num_timesteps,
            "observation_space": space_json(self.model.observation_space),
            "action_space": space_json(self.model.action_space),
        }

    def _tensors(self) -> dict[str, torch.Tensor]:
        return policy_tensors(self.model)

    @classmethod
    def _from_saved(cls, config: dict[str, Any], tensors: dict[str, torch.Tensor],
                    env: Any) -> "SB3Agent":
        with saved_config(cls.name):
            observation_space = space_from_json(config["observation_space"])
            action_space = space_from_json(config["action_space"])
            algo, params = str(config["algo"]), dict(config["params"])
            source: str | gym.Env = str(config["env_id"])
            kwargs: dict[str, Any] = dict(config["env_kwargs"])
            seed, steps = int(config["seed"]), int(config["num_timesteps"])
        check_env_spaces(env, observation_space, action_space, f"{algo} ({cls.name})")
        if env is not None and getattr(env, "spec", None) is not None:
            source, kwargs = env, {}
        agent = cls(source, algo, params, env_kwargs=kwargs, seed=seed)
        restore_weights(f"{algo} ({cls.name})", lambda: load_policy_tensors(agent.model, tensors))
        agent.num_timesteps = steps
        return agent
