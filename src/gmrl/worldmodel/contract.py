"""`WorldModelAgent`: the v1 world-model agent (`ModelBasedAgent`) on gmrl's agent contract.

```python
agent = gmrl.make_agent({"agent": "worldmodel", "config": {"model": {"reward": "learned",
                         "termination": "learned"}, "initial_steps": 200}}, gym.make("CartPole-v1"))
agent.learn(2_000)                                   # ModelBasedAgent.train: the recipe's steps
action, plan = agent.predict(obs, deterministic=True)
agent.save("runs/wm")                                # config.json + weights.safetensors + manifest
agent = gmrl.load("runs/wm")                         # acts without an env; give one to learn on
```

- `config` holds the keys of configs/worldmodel/default.yaml that describe the agent (`model`,
  `mode`, `planner`, `dream`, `value`, `initial_steps`, `fit_every`, `early_fit_*`:
  `WorldModelConfig`); a recipe config may be given as it is (its other keys are ignored).
- `learn(n)` is `ModelBasedAgent.train(n, callback)`, the loop `gmrl run` steps too: random
  warm-up, refits on schedule, planning (or SB3 in the dream) at every real step.
- `predict` plans with a fresh planner over the learned model (the training planner's warm start
  and random streams are untouched): `state` is the CEM plan to warm-start from (pass it back, as
  SB3's `evaluate_policy` does; `episode_start` restarts rows), and a deterministic call draws
  its candidates from a generator seeded anew each time, so it is a pure function of the weights,
  the observations and the state. In dream mode it is the SB3 policy's `predict`.
- `save` writes the ensemble, the terminal value, the dream's SB3 policy and every real
  transition (the store the next refit trains on) as tensors, and the settings, spaces, env id
  and counters as JSON; optimizer moments are not kept (a loaded agent's next refit starts them
  afresh). Loaded without an env, the agent acts; `learn` needs `load(path, env=...)`.
"""

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from pydantic import Field

from gmrl.core.agent import Agent, Callback
from gmrl.core.checkpoint import under_prefix, with_prefix
from gmrl.core.config import section_of
from gmrl.core.device import resolve_device
from gmrl.core.errors import EnvError
from gmrl.core.seeding import OwnedGlobalRng, derive_seed, torch_generator
from gmrl.rl.contract import (
    check_env_spaces,
    restore_weights,
    saved_config,
    space_from_json,
    space_json,
)
from gmrl.rl.envs import make_env
from gmrl.worldmodel.agent import AgentConfig, ModelBasedAgent
from gmrl.worldmodel.build import ModelSection, build_model
from gmrl.worldmodel.envs import check_world_model_env
from gmrl.worldmodel.planners import CEMPlanner


class WorldModelConfig(AgentConfig):
    """The v1 agent's settings: its world model (`model`) and behaviour (`AgentConfig`)."""

    model: ModelSection = Field(default_factory=ModelSection)


def _settings(config: Any) -> WorldModelConfig:
    """`WorldModelConfig` from itself, a dict of its keys, or a recipe config (extra keys left)."""
    return section_of(WorldModelConfig, config, "worldmodel agent config")


def env_id_of(env: Any) -> str:
    """The id an env was made from: its spec's, or the name `gmrl.rl.envs.make_env` gave it."""
    spec = getattr(env, "spec", None)
    if spec is not None and spec.id:
        return str(spec.id)
    return str(getattr(env, "name", None) or type(env).__name__)


class _NoEnv(gym.Env):
    """The spaces of a loaded agent given no env: enough to act, refusing to step."""

    def __init__(self, observation_space: gym.Space, action_space: gym.Space) -> None:
        self.observation_space, self.action_space = observation_space, action_space

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        return np.zeros(self.observation_space.shape, self.observation_space.dtype), {}

    def step(self, action: Any) -> Any:
        raise EnvError("this world-model agent was loaded without an env: give one to "
                       "WorldModelAgent.load(path, env=...) or gmrl.load(path, env=...) to learn")


def _env_maker(env: gym.Env, env_id: str) -> Callable[[], gym.Env]:
    """The given env first (the agent's training env), fresh copies by its id after that."""
    given = [env]
    return lambda: given.pop() if given else make_env(env_id, check=False)


class WorldModelAgent(Agent):
    """The v1 world-model agent (ensemble + CEM/MCTS planning, or SB3 in the dream), on the
    agent contract (see the module docstring).

    Args:
        env: the real env to learn in (a Box-observation env; None with the spaces given: an
            agent that only acts, as a loaded one).
        config: `WorldModelConfig`, a dict of its keys, or a `worldmodel` recipe config.
        seed: every random stream derives from it (`ModelBasedAgent`).
        device: where the world model lives ("auto": CUDA when present).
        observation_space / action_space / env_id: needed only when `env` is None (the env id
            picks `known` reward and termination functions).
    """

    name = "worldmodel"

    def __init__(
        self, env: gym.Env | None = None, config: Any = None, *, seed: int = 0,
        device: str = "auto", observation_space: gym.Space | None = None,
        action_space: gym.Space | None = None, env_id: str | None = None,
    ) -> None:
        self.settings = _settings(config)
        if env is None:
            if observation_space is None or action_space is None:
                raise EnvError("WorldModelAgent needs an env (or its observation and action "
                               "spaces, for an agent that only acts)")
            env = _NoEnv(observation_space, action_space)
        self.env_id = env_id or env_id_of(env)
        check_world_model_env(env, self.env_id)
        self.seed, self.device = int(seed), resolve_device(device)
        # initial weights (model, terminal value) from the seed, as `gmrl run` builds them after
        # `seed_everything(seed)`, whatever the global generator holds (forked: left as it was)
        with torch.random.fork_rng(devices=[]):
            torch.random.default_generator.manual_seed(self.seed)
            model = build_model(self.settings.model, env.observation_space, env.action_space,
                                self.env_id).to(self.device)
            self.inner = ModelBasedAgent(_env_maker(env, self.env_id), model, self.settings,
                                         seed=self.seed)
        self._sampling = torch_generator(self.seed, "worldmodel.predict.sample")
        self._dream_sampling = (OwnedGlobalRng(derive_seed(self.seed, "worldmodel.predict.sb3"))
                                if self.inner.mode == "dream" else None)

    @property
    def num_timesteps(self) -> int:
        """Real env steps taken in training so far."""
        return int(self.inner.real_steps)

    @num_timesteps.setter
    def num_timesteps(self, value: int) -> None:
        self.inner.real_steps = int(value)

    @property
    def timings(self) -> dict[str, float]:
        """Seconds spent fitting, in the dream, acting (env step included) and planning, with
        `act_steps` (the real steps after the random warm-up): per-step costs for benchmarks."""
        planned = max(0, self.inner.real_steps - self.inner.initial_steps)
        return {**self.inner.timings, "act_steps": float(planned)}

    def model_metrics(self) -> dict[str, float]:
        """The last refit's figures (held-out error, epochs, termination hits, value mean)."""
        return {key: float(value) for key, value in self.inner.last_fit.items()}

    def learn(self, total_timesteps: int, callback: Callback | None = None) -> "WorldModelAgent":
        """`total_timesteps` more real steps of `ModelBasedAgent.train` (see the module doc)."""
        self.inner.train(int(total_timesteps),
                         None if callback is None else (lambda: callback(self)))
        return self

    def predict(
        self, observation: Any, state: Any = None, episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """Actions for one observation or a batch, and the plan to warm-start from next."""
        inner = self.inner
        obs = np.asarray(observation, dtype=np.float32)
        single = obs.ndim == len(inner.env.observation_space.shape or ())
        batch = obs[None] if single else obs
        if inner.mode == "dream":
            if deterministic:
                actions, _ = inner.sb3.predict(batch, deterministic=True)
            else:  # SB3 samples from the globals: a copy of the agent's own, apart from training's
                assert self._dream_sampling is not None
                with self._dream_sampling.active():
                    actions, _ = inner.sb3.predict(batch, deterministic=False)
            return (actions[0] if single else actions), None
        planner = inner._make_planner(inner.env)  # fresh: training's warm start untouched
        if isinstance(planner, CEMPlanner) and state is not None and len(state) == len(batch):
            planner.load_state_dict({"dist": torch.as_tensor(np.asarray(state))})
            if episode_start is not None:
                planner.reset(mask=np.asarray(episode_start, dtype=bool))
        generator = (torch_generator(self.seed, "worldmodel.predict") if deterministic
                     else self._sampling)
        actions = np.asarray(planner.plan(batch, generator=generator, explore=not deterministic))
        plan = planner.state_dict().get("dist") if isinstance(planner, CEMPlanner) else None
        new_state = None if plan is None else plan.cpu().numpy()
        return (actions[0] if single else actions), new_state

    # ------------------------------------------------------------------ save / load
    def _config_json(self) -> dict[str, Any]:
        inner = self.inner
        return {
            "config": self.settings.model_dump(mode="json"), "env_id": self.env_id,
            "observation_space": space_json(inner.env.observation_space),
            "action_space": space_json(inner.env.action_space),
            "seed": self.seed, "num_timesteps": self.num_timesteps, "fits": inner.fits,
            "episodes": inner.episodes, "reward_scale": inner.reward_scale,
        }

    def _tensors(self) -> dict[str, torch.Tensor]:
        inner = self.inner
        tensors = with_prefix("model.", inner.model.state_dict())
        if inner.value is not None:
            tensors.update(with_prefix("value.", inner.value.state_dict()))
        if inner.sb3 is not None:
            from gmrl.rl.sb3.state import policy_tensors

            tensors.update(with_prefix("sb3.", policy_tensors(inner.sb3)))
        tensors.update(with_prefix("store.", inner.store.state_dict()))
        return tensors

    @classmethod
    def _from_saved(cls, config: dict[str, Any], tensors: dict[str, torch.Tensor],
                    env: Any) -> "WorldModelAgent":
        with saved_config(cls.name):
            settings = WorldModelConfig.model_validate(config["config"])
            observation_space = space_from_json(config["observation_space"])
            action_space = space_from_json(config["action_space"])
            env_id, seed = str(config["env_id"]), int(config["seed"])
            counters = {k: int(config[k]) for k in ("num_timesteps", "fits", "episodes")}
            scale = float(config["reward_scale"])
        check_env_spaces(env, observation_space, action_space, cls.name)
        agent = cls(env, settings, seed=seed, observation_space=observation_space,
                    action_space=action_space, env_id=env_id)
        inner = agent.inner
        restore_weights(cls.name, lambda: _restore(inner, tensors))
        inner.real_steps, inner.fits = counters["num_timesteps"], counters["fits"]
        inner.episodes = counters["episodes"]
        inner._set_reward_scale(scale)
        return agent




def _restore(inner: ModelBasedAgent, tensors: dict[str, torch.Tensor]) -> None:
    """Put saved tensors into a freshly built agent of the same settings."""
    inner.model.load_state_dict(under_prefix(tensors, "model."))
    if inner.value is not None:
        inner.value.load_state_dict(under_prefix(tensors, "value."))
    if inner.sb3 is not None:
        from gmrl.rl.sb3.state import load_policy_tensors

        load_policy_tensors(inner.sb3, under_prefix(tensors, "sb3."))
    store = under_prefix(tensors, "store.")
    if store:
        inner.store.load_state_dict(store)
