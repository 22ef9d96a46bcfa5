"""`PixelWorldModelAgent`: World Models from pixels (`LatentAgent`) on gmrl's agent contract.

```python
agent = gmrl.make_agent({"agent": "worldmodel_pixels", "config": {"random_episodes": 10}},
                        gym.make("CartPole-v1"))     # a state env is remade with frames
agent.learn(2_000)                                   # warm-up, then fit / dream / act iterations
action, state = agent.predict(frames)                # pass `state` back: it carries [z, h]
agent.save("runs/pixels")                            # config.json + weights.safetensors + manifest
agent = gmrl.load("runs/pixels")                     # acts without an env; give one to learn on
```

- `env`: a pixel env (`make_pixel_env`: uint8 frames `(C, H, W)`, Discrete actions), used as it
  is; or a state env or Gymnasium id, remade as the recipe makes its env:
  `make_pixel_env(id, **config.frames)`, with the env's time limit and arguments (its `spec`).
- `config`: `PixelAgentConfig`: the loop's settings (`LatentAgentConfig`: controller, warm-up,
  episodes per iteration), the model (`model`) and the frames (`frames`, read from the env when it
  is already a `PixelObservation`); a `worldmodel_pixels` recipe config may be given as it is.
- The agent keeps its own copy of the global random generators (`OwnedGlobalRng`, seeded
  with `seed`): the initial weights, the model fits and SB3's PPO in the dream draw from it, so the
  same seed gives the same agent whatever ran before in the process, and the caller's
  generators are left as they were. The copy starts as `seed_everything(seed)` leaves the
  globals, so a recipe run draws exactly what it drew when it used the globals.
- `learn(n)`: the random warm-up (whole episodes, until the budget is spent or the warm-up is
  done), then whole iterations (fit, controller, act) until at least `n` more real env steps
  (underlying steps: each decision is `action_repeat` of them). `callback(agent)` runs after
  every real episode and at the end of every iteration (the end of the warm-up is iteration 0,
  `agent.last_metrics` then holds its metrics row); returning False stops learning there (an
  act phase ends after its episode: that iteration then counts the episodes played).
- `predict` runs the frame filter of the real env (`LatentController`): the returned state holds
  each row's latent state `[z, h]` and the action taken, so the next call advances `h` with it
  (SB3's `evaluate_policy` passes it back; `episode_start` restarts rows). The action comes from
  the PPO controller (its mode when deterministic), or from CEM planning with a generator seeded
  anew on each deterministic call (the warm start rides in the state); before the first
  iteration there is no controller and actions are uniform draws.
- `save` writes the model (VAE, MDN-RNN), the PPO policy, every real episode (what the next fit
  trains on) and the random streams as tensors; the settings, spaces and counters as JSON.
  Optimizer moments are not kept (a loaded agent's next fit starts them afresh).
"""

import math
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from pydantic import Field

from gmrl.core.agent import Agent, Callback
from gmrl.core.checkpoint import under_prefix, with_prefix
from gmrl.core.config import section_of
from gmrl.core.device import resolve_device
from gmrl.core.errors import EnvError
from gmrl.core.seeding import OwnedGlobalRng, torch_generator
from gmrl.rl.contract import (
    check_env_spaces,
    env_source,
    restore_weights,
    saved_config,
    space_from_json,
    space_json,
)
from gmrl.worldmodel.latent_agent import (
    LatentAgent,
    LatentAgentConfig,
    _StopInPhase,
    pack_episodes,
    unpack_episodes,
)
from gmrl.worldmodel.latent_model import LatentModelConfig, LatentWorldModel
from gmrl.worldmodel.pixels import FrameSection, PixelObservation, make_pixel_env
from gmrl.worldmodel.planners import CEMPlanner


class PixelAgentConfig(LatentAgentConfig):
    """The pixel agent's settings: the loop (`LatentAgentConfig`), the model and the frames."""

    model: LatentModelConfig = Field(default_factory=LatentModelConfig)
    frames: FrameSection = Field(default_factory=FrameSection)


def _settings(config: Any) -> PixelAgentConfig:
    """`PixelAgentConfig` from itself, a dict of its keys, or a recipe config (extra keys left)."""
    return section_of(PixelAgentConfig, config, "worldmodel_pixels agent config")


def is_pixel_space(space: gym.Space) -> bool:
    """uint8 frames `(C, H, W)`: what the frame VAE reads."""
    return isinstance(space, spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3


def pixel_env(env: str | gym.Env, frames: FrameSection) -> gym.Env:
    """A pixel env as it is; a state env or an id remade with frames (`make_pixel_env`)."""
    if not isinstance(env, str) and is_pixel_space(env.observation_space):
        return env
    env_id, kwargs = env_source(env, None, "PixelWorldModelAgent")
    kwargs.pop("render_mode", None)  # make_pixel_env renders rgb_array itself
    return make_pixel_env(env_id, size=frames.size, stack=frames.stack, resize=frames.resize,
                          action_repeat=frames.action_repeat, **kwargs)


def frames_of(env: gym.Env) -> FrameSection | None:
    """The frame settings of the `PixelObservation` inside `env` (None if there is none)."""
    while not isinstance(env, PixelObservation):
        if not isinstance(env, gym.Wrapper):
            return None
        env = env.env
    resize = "max" if env.resize == "max" else "area"
    return FrameSection(size=env.size, stack=env.stack, resize=resize,
                        action_repeat=env.action_repeat)


class _NoEnv(gym.Env):
    """The spaces of an agent loaded without an env: enough to build it and act."""

    def __init__(self, observation_space: gym.Space, action_space: gym.Space) -> None:
        self.observation_space, self.action_space = observation_space, action_space


class PixelWorldModelAgent(Agent):
    """World Models (frame VAE + MDN-RNN + controller) on pixels, on the agent contract (see
    the module docstring).

    Args:
        env: a pixel env, or a state env / Gymnasium id to render (None with the spaces given:
            an agent that only acts, as a loaded one).
        config: `PixelAgentConfig`, a dict of its keys, or a `worldmodel_pixels` recipe config.
        seed: every random stream derives from it.
        device: where the model and PPO live ("auto": CUDA when present).
        observation_space / action_space / env_id: needed only when `env` is None.
    """

    name = "worldmodel_pixels"

    def __init__(
        self, env: str | gym.Env | None = None, config: Any = None, *, seed: int = 0,
        device: str | torch.device = "auto", observation_space: gym.Space | None = None,
        action_space: gym.Space | None = None, env_id: str | None = None,
    ) -> None:
        settings = _settings(config)
        self.seed, self.device = int(seed), resolve_device(device)
        self.env: gym.Env | None = None
        if env is not None:
            self.env = pixel_env(env, settings.frames)
            observation_space, action_space = self.env.observation_space, self.env.action_space
            found = frames_of(self.env)
            if found is not None:
                settings = settings.model_copy(update={"frames": found})
            spec = getattr(self.env, "spec", None)
            env_id = env_id or (spec.id if spec is not None else type(self.env).__name__)
        elif observation_space is None or action_space is None:
            raise EnvError("PixelWorldModelAgent needs an env (or its observation and action "
                           "spaces, for an agent that only acts)")
        self.settings, self.env_id = settings, str(env_id)
        self.observation_space, self.action_space = _checked_spaces(
            observation_space, action_space, self.env_id)
        self.rng = OwnedGlobalRng(self.seed)
        with self.rng.active():  # initial weights from the agent's seed, not the caller's state
            model = LatentWorldModel(
                frame_shape=self.observation_space.shape,  # type: ignore[arg-type]
                action_dim=int(self.action_space.n), discrete=True, config=settings.model,
            ).to(self.device)
        acting_env = self.env if self.env is not None else _NoEnv(self.observation_space,
                                                                   self.action_space)
        self.inner = LatentAgent(acting_env, model, settings, seed=self.seed, device=self.device)
        self.iteration = 0  # iterations completed
        self.last_metrics: dict[str, float] = {}  # of the last warm-up or iteration completed
        self._sampling = torch_generator(self.seed, "worldmodel_pixels.predict.sample")

    @property
    def model(self) -> LatentWorldModel:
        return self.inner.model

    @property
    def num_timesteps(self) -> int:
        """Real (underlying) env steps taken in training so far."""
        return int(self.inner.real_steps)

    @num_timesteps.setter
    def num_timesteps(self, value: int) -> None:
        self.inner.real_steps = int(value)

    @property
    def warmed_up(self) -> bool:
        return self.inner.warmed_up

    # ------------------------------------------------------------------ learning
    def learn(
        self, total_timesteps: int, callback: Callback | None = None, *,
        stop_requested: Callable[[], bool] | None = None,
    ) -> "PixelWorldModelAgent":
        """At least `total_timesteps` more real steps: warm-up episodes, then whole iterations.

        `stop_requested` is for a runner that checkpoints (the recipe's Ctrl-C): polled inside
        every phase; once it says stop, the agent goes back to the start of the phase it was in
        (its `state_dict` is then a consistent checkpoint; the next `learn` redoes that phase)
        and `learn` returns.
        """
        if self.env is None:
            raise EnvError("this agent has no env to learn in: pass one to "
                           "PixelWorldModelAgent(env) or PixelWorldModelAgent.load(path, env=...)")
        inner, target = self.inner, self.num_timesteps + int(total_timesteps)
        stopped = False

        def go_on() -> bool:
            nonlocal stopped
            stopped = callback is not None and callback(self) is False
            return not stopped

        def stop() -> None:  # between phases, and inside one once it is rolled back
            if stop_requested is not None and stop_requested():
                raise _StopInPhase

        with self.rng.active():
            while not inner.warmed_up and self.num_timesteps < target:
                row = inner.warm_up(1)
                if inner.warmed_up:
                    self.last_metrics = row
                if not go_on():
                    return self
            while inner.warmed_up and self.num_timesteps < target:
                try:
                    metrics = inner.iterate(
                        self.iteration + 1, stop_requested=stop_requested,
                        stop=None if stop_requested is None else stop, on_episode=go_on)
                except _StopInPhase:
                    return self
                self.iteration += 1
                self.last_metrics = metrics
                if stopped or not go_on():
                    return self
        return self

    # ------------------------------------------------------------------ acting
    @torch.no_grad()
    def predict(
        self, observation: Any, state: Any = None, episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """Actions for one frame stack or a batch, and the filter state to pass back next."""
        obs = np.asarray(observation, dtype=np.uint8)
        single = obs.ndim == len(self.observation_space.shape)
        frames = torch.as_tensor(obs[None] if single else obs, device=self.model.device)
        n, model = len(frames), self.model
        z = model.encode(frames)
        h = z.new_zeros(n, model.rnn.hidden)
        carried = (isinstance(state, dict)
                   and np.shape(np.asarray(state.get("latent", ()))) == (n, model.state_dim))
        if carried:  # advance h with the action taken; restart rows that began an episode
            previous = torch.as_tensor(np.asarray(state["latent"]), device=model.device)
            before, h_before = model.split_state(previous)
            action = torch.as_tensor(np.asarray(state["action"]), dtype=torch.long)
            h = model.rnn.advance(h_before, before, action.to(model.device))
            if episode_start is not None:
                restart = torch.as_tensor(np.asarray(episode_start, dtype=bool),
                                          device=model.device)
                h = torch.where(restart[:, None], torch.zeros_like(h), h)
        latent = torch.cat([z, h], -1).cpu().numpy().astype(np.float32)
        actions, plan = self._choose(latent, state if carried else None, episode_start,
                                     deterministic)
        new_state = {"latent": latent, "action": actions.astype(np.int64)}
        if plan is not None:
            new_state["plan"] = plan
        return (actions[0] if single else actions), new_state

    def _choose(self, latent: np.ndarray, state: dict[str, Any] | None,
                episode_start: np.ndarray | None, deterministic: bool
                ) -> tuple[np.ndarray, np.ndarray | None]:
        """The controller's actions for latent states, and CEM's warm start (else None)."""
        generator = (torch_generator(self.seed, "worldmodel_pixels.predict") if deterministic
                     else self._sampling)
        if self.settings.controller.kind == "cem":
            planner = CEMPlanner(self.model, self.action_space, self.settings.controller.cem)
            if state is not None and "plan" in state:
                planner.load_state_dict({"dist": torch.as_tensor(np.asarray(state["plan"]))})
                if episode_start is not None:
                    planner.reset(mask=np.asarray(episode_start, dtype=bool))
            actions = np.asarray(planner.plan(latent, generator=generator))
            return actions, planner.state_dict()["dist"].cpu().numpy()
        ppo = self.inner.ppo
        if ppo is None:  # no controller before the first iteration: uniform actions
            draws = torch.randint(int(self.action_space.n), (len(latent),), generator=generator)
            return draws.numpy(), None
        if deterministic:
            return np.asarray(ppo.predict(latent, deterministic=True)[0]), None
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):  # SB3 samples from the global generator
            torch.manual_seed(int(torch.randint(2**62, (), generator=generator)))
            return np.asarray(ppo.predict(latent, deterministic=False)[0]), None

    # ------------------------------------------------------------------ checkpoints (recipe)
    def state_dict(self) -> dict[str, Any]:
        """Everything the agent's future depends on, for exact resume (`gmrl run --resume`)."""
        return {**self.inner.state_dict(), "iteration": self.iteration,
                "global_rng": self.rng.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with self.rng.active():  # rebuilding PPO reseeds the globals: ours, not the caller's
            self.inner.load_state_dict(state)
        self.rng.load_state_dict(state["global_rng"])
        self.iteration = int(state["iteration"])

    # ------------------------------------------------------------------ save / load
    def _config_json(self) -> dict[str, Any]:
        return {
            "config": self.settings.model_dump(mode="json"), "env_id": self.env_id,
            "observation_space": space_json(self.observation_space),
            "action_space": space_json(self.action_space),
            "seed": self.seed, "num_timesteps": self.num_timesteps, "iteration": self.iteration,
            "returns": [[s, r] for s, r in self.inner.returns],
            "last_metrics": {k: v for k, v in self.last_metrics.items() if math.isfinite(v)},
        }

    def _tensors(self) -> dict[str, torch.Tensor]:
        inner = self.inner
        tensors = with_prefix("model.", self.model.state_dict())
        if inner.ppo is not None:
            from gmrl.rl.sb3.state import policy_tensors

            tensors.update(with_prefix("ppo.", policy_tensors(inner.ppo)))
        if inner.episodes:
            tensors.update(with_prefix("episodes.", pack_episodes(inner.episodes)))
        tensors.update({f"generators.{k}": g.get_state() for k, g in inner.generators.items()})
        tensors.update(with_prefix("global_rng.", self.rng.state_dict()))
        return tensors

    @classmethod
    def _from_saved(cls, config: dict[str, Any], tensors: dict[str, torch.Tensor],
                    env: Any) -> "PixelWorldModelAgent":
        with saved_config(cls.name):
            settings = PixelAgentConfig.model_validate(config["config"])
            observation_space = space_from_json(config["observation_space"])
            action_space = space_from_json(config["action_space"])
            env_id, seed = str(config["env_id"]), int(config["seed"])
            counters = {k: int(config[k]) for k in ("num_timesteps", "iteration")}
            returns = [(int(s), float(r)) for s, r in config["returns"]]
            last_metrics = {str(k): float(v) for k, v in config["last_metrics"].items()}
        if env is not None:
            env = pixel_env(env, settings.frames)
        check_env_spaces(env, observation_space, action_space, cls.name)
        agent = cls(env, settings, seed=seed, observation_space=observation_space,
                    action_space=action_space, env_id=env_id)
        restore_weights(cls.name, lambda: agent._restore(tensors))
        agent.num_timesteps, agent.iteration = counters["num_timesteps"], counters["iteration"]
        agent.inner.returns, agent.last_metrics = returns, last_metrics
        return agent

    def _restore(self, tensors: dict[str, torch.Tensor]) -> None:
        """Put saved tensors into this freshly built agent of the same settings."""
        inner = self.inner
        self.model.load_state_dict(under_prefix(tensors, "model."))
        self.model.eval()
        episodes = under_prefix(tensors, "episodes.")
        inner.episodes = unpack_episodes(episodes) if episodes else []
        ppo = under_prefix(tensors, "ppo.")
        if ppo:
            from gmrl.rl.sb3.state import load_policy_tensors

            with self.rng.active():  # building PPO reseeds the globals (ours; restored below)
                inner.ppo = inner.make_controller()
            load_policy_tensors(inner.ppo, ppo)
        for name, generator in inner.generators.items():
            generator.set_state(tensors[f"generators.{name}"])
        self.rng.load_state_dict(under_prefix(tensors, "global_rng."))


def _checked_spaces(observation_space: gym.Space, action_space: gym.Space, env_id: str
                    ) -> tuple[spaces.Box, spaces.Discrete]:
    """The spaces, if the pixel agent handles them; else one `EnvError` line saying why."""
    if not is_pixel_space(observation_space):
        raise EnvError(f"env '{env_id}' has {observation_space} observations: the pixel agent "
                       "reads uint8 frames (C, H, W); give a state env to render, or "
                       "make_pixel_env(...)")
    height, width = observation_space.shape[1:]  # type: ignore[index]
    if height % 8 or width % 8:
        raise EnvError(f"env '{env_id}' has frames of {height}x{width}: both sides must be "
                       "multiples of 8 (the frame VAE halves them three times)")
    if not isinstance(action_space, spaces.Discrete) or int(action_space.start) != 0:
        raise EnvError(f"env '{env_id}' has {action_space} actions: the pixel agent handles "
                       "Discrete(n) actions (e.g. CartPole-v1)")
    return observation_space, action_space  # type: ignore[return-value]
