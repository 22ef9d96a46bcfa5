"""REINFORCE and actor-critic on gmrl's agent contract (`gmrl.core.agent.Agent`).

```python
agent = ActorCriticAgent(gym.make("CartPole-v1"), {"num_envs": 4, "n_steps": 32}, seed=0)
agent.learn(total_timesteps=50_000)
action, _ = agent.predict(obs)                 # one observation or a batch
agent.save("runs/cartpole_a2c")                # config.json + weights.safetensors + manifest
agent = ActorCriticAgent.load("runs/cartpole_a2c")
```

Thin adapters: each holds the gmrl agent it names (`Reinforce` / `ActorCritic`, as `inner`)
and keeps its behaviour:

- the agent trains on its own `num_envs` copies of the env, made from an id or from the `spec`
  of an env made by `gymnasium.make` (its id, keyword arguments and time limit);
- `learn(total_timesteps)` runs whole training iterations (REINFORCE: one episode per env;
  actor-critic: `n_steps` steps per env) until at least `total_timesteps` more env steps were
  taken, so it may overshoot by up to one iteration, as SB3's on-policy `learn` does by up to a
  rollout. The callback runs after every iteration (the steps inside one are not interruptible);
- `predict` is the policy's mode (`deterministic=True`) or a sample, for one observation or a
  batch; the policy has no memory, so `state` stays None;
- `save` writes the policy, value and observation-normaliser tensors and, as JSON, the
  algorithm, env id and arguments, hyper-parameters, seed, counters and spaces (not the
  optimizer: a loaded agent learns on with fresh Adam moments). `load` rebuilds the agent from
  them; a given env must have the saved spaces, and its `spec` (when it has one) is then what
  the agent's training copies are made from.
"""

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch

from gmrl.core.agent import Agent, Callback
from gmrl.rl.contract import (
    check_env_spaces,
    env_source,
    json_ready,
    restore_weights,
    saved_config,
    space_from_json,
    space_json,
)
from gmrl.rl.policy_gradient.actor_critic import ActorCritic
from gmrl.rl.policy_gradient.agent import PolicyGradientAgent
from gmrl.rl.policy_gradient.reinforce import Reinforce

_NETS = ("policy", "value", "normalizer")


class PolicyGradientContract(Agent):
    """A `PolicyGradientAgent` behind the agent contract (see the module docstring).

    Args:
        env: a Gymnasium id, or an env made by `gymnasium.make` (its spec is copied).
        params: the algorithm's hyper-parameters (`ReinforceConfig` / `ActorCriticConfig`).
        env_kwargs: extra arguments for the env copies.
        seed, device: as for `Reinforce` / `ActorCritic`.
    """

    algo_class: ClassVar[type[PolicyGradientAgent]]

    def __init__(
        self, env: str | gym.Env | None = None, params: dict[str, Any] | None = None, *,
        env_kwargs: dict[str, Any] | None = None, seed: int = 0, device: str = "auto",
    ) -> None:
        env_id, kwargs = env_source(env, env_kwargs, f"the {self.name} agent")
        self.inner = self.algo_class(env_id, params, env_kwargs=kwargs, seed=seed, device=device)

    @property
    def num_timesteps(self) -> int:
        """Env steps taken in training so far."""
        return self.inner.num_steps

    @num_timesteps.setter
    def num_timesteps(self, value: int) -> None:
        self.inner.num_steps = int(value)

    def learn(
        self, total_timesteps: int, callback: Callback | None = None
    ) -> "PolicyGradientContract":
        """Train for at least `total_timesteps` more env steps (whole iterations; see module)."""
        target = self.inner.num_steps + int(total_timesteps)

        def after_iteration(inner: PolicyGradientAgent, metrics: dict[str, float]) -> bool | None:
            return None if callback is None else callback(self)

        self.inner.learn(target, callback=after_iteration)
        return self

    def predict(
        self, observation: Any, state: Any = None, episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """The policy's action for one observation or a batch (SB3's signature)."""
        return self.inner.predict(observation, state, episode_start, deterministic)

    def close(self) -> None:
        """Close the training envs (they are made again if `learn` is called later)."""
        self.inner.close()

    # ------------------------------------------------------------------ save / load
    def _config_json(self) -> dict[str, Any]:
        inner = self.inner
        return {
            "algo": inner.algo, "env_id": inner.env_id,
            "env_kwargs": json_ready(inner.env_kwargs, f"the {self.name} agent's env_kwargs"),
            "params": inner.config.model_dump(mode="json"), "seed": inner.seed,
            "num_steps": inner.num_steps, "num_episodes": inner.num_episodes,
            "iteration": inner.iteration,
            "observation_space": space_json(inner.observation_space),
            "action_space": space_json(inner.action_space),
        }

    def _tensors(self) -> dict[str, torch.Tensor]:
        return {f"{net}.{key}": value for net in _NETS
                for key, value in getattr(self.inner, net).state_dict().items()}

    @classmethod
    def _from_saved(cls, config: dict[str, Any], tensors: dict[str, torch.Tensor],
                    env: Any) -> "PolicyGradientContract":
        with saved_config(cls.name):
            observation_space = space_from_json(config["observation_space"])
            action_space = space_from_json(config["action_space"])
            source: str | gym.Env = config["env_id"]
            kwargs: dict[str, Any] = dict(config["env_kwargs"])
            params, seed = dict(config["params"]), int(config["seed"])
        check_env_spaces(env, observation_space, action_space, cls.name)
        if env is not None and getattr(env, "spec", None) is not None:
            source, kwargs = env, {}
        agent = cls(source, params, env_kwargs=kwargs, seed=seed)
        inner = agent.inner

        def restore() -> None:
            for net in _NETS:
                prefix = f"{net}."
                getattr(inner, net).load_state_dict(
                    {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})

        restore_weights(cls.name, restore)
        with saved_config(cls.name):
            inner.num_steps = int(config["num_steps"])
            inner.num_episodes = int(config["num_episodes"])
            inner.iteration = int(config["iteration"])
        return agent


class ReinforceAgent(PolicyGradientContract):
    """REINFORCE with a learned baseline (`Reinforce`) on the agent contract."""

    name = "reinforce"
    algo_class = Reinforce


class ActorCriticAgent(PolicyGradientContract):
    """Advantage actor-critic with GAE (`ActorCritic`) on the agent contract."""

    name = "actor_critic"
    algo_class = ActorCritic
