"""World Models from pixels: the loop that alternates model fitting, dreaming and acting.

`LatentAgent` owns the pixel recipe's training loop (formerly written out in the recipe):

1. `warm_up()`: `random_episodes` real episodes with uniformly random actions (it may be
   played a few episodes at a time: `warm_up(n)` continues where the last call stopped);
2. every `iterate(i)` runs three phases, each ending in a consistent, checkpointable state:
   - **fit**: the frame VAE and the MDN-RNN on every real episode so far (`LatentWorldModel`);
   - **controller**: SB3 PPO trained inside `LatentDreamVecEnv` on latent states `[z, h]`
     (`controller.kind=ppo`, as in World Models), or nothing for `kind=cem`, which plans
     through the model at every real step (`CEMPlanner`);
   - **act**: `episodes_per_iteration` real episodes from rendered frames only (encoder + GRU
     filter); they become training data for the next fit. An `on_episode` hook (see `iterate`)
     is called after each but the last, and may end the phase early.

`state_dict()` holds the model and both its optimizers, every episode, the PPO agent's full
training state, each random stream and the phase reached, so a run stopped between two phases
and resumed continues exactly (`iterate` picks up at the next phase). A phase can take minutes
(the first fit), so a stop requested inside one is noticed within an update or an episode: the
agent goes back to the phase's start (a snapshot taken before it, global RNG included) and
stops there, and the resumed run redoes that phase, exactly as it would have run.

`gmrl.worldmodel.pixel_contract.PixelWorldModelAgent` puts this loop on gmrl's agent contract
(`learn`, `predict`, `save`, `load`); the recipe runs it through that class.
"""

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
from pydantic import Field
from stable_baselines3.common.callbacks import BaseCallback

from gmrl.core.checkpoint import save_artifact
from gmrl.core.config import StrictModel
from gmrl.core.seeding import derive_seed, rng_state, set_rng_state, torch_generator
from gmrl.worldmodel.latent_dream import LatentController, LatentDreamVecEnv, record_episode
from gmrl.worldmodel.latent_model import Episode, LatentWorldModel
from gmrl.worldmodel.planners import CEMConfig, CEMPlanner

PHASES = ("fit", "controller", "act")


class _StopInPhase(Exception):
    """Raised by `LatentAgent._poll` when a stop was requested in the middle of a phase."""


class ControllerConfig(StrictModel):
    """Controller on latent states: PPO trained in the dream, or CEM planning in the model."""

    kind: Literal["ppo", "cem"] = "ppo"
    dream_steps: int = Field(
        default=30_000, ge=64, description="PPO timesteps in the dream per iteration"
    )
    num_envs: int = Field(default=16, ge=1, description="parallel dreams")
    horizon: int = Field(default=200, ge=1, description="dream episode length cap (truncation)")
    ppo: dict[str, Any] = Field(
        default_factory=lambda: {
            "n_steps": 64,
            "batch_size": 256,
            "n_epochs": 4,
            "learning_rate": 3e-4,
        },
        description="stable_baselines3.PPO hyper-parameters (as in the rl recipe's params)",
    )
    cem: CEMConfig = Field(default_factory=CEMConfig, description="kind=cem planner")


class LatentAgentConfig(StrictModel):
    """The loop's budget: warm-up episodes, real episodes per iteration, the controller."""

    controller: ControllerConfig = Field(default_factory=ControllerConfig)
    random_episodes: int = Field(
        default=40, ge=2, description="random-policy episodes before the first fit"
    )
    episodes_per_iteration: int = Field(
        default=5, ge=1, description="real episodes per iteration (data + eval)"
    )


class _PollCallback(BaseCallback):
    """Polls for a stop request after every step of SB3 training in the dream."""

    def __init__(self, poll: Callable[[], None]) -> None:
        super().__init__()
        self.poll = poll

    def _on_step(self) -> bool:
        self.poll()
        return True


def pack_episodes(episodes: list[Episode]) -> dict[str, torch.Tensor]:
    """Episodes as five flat tensors (checkpoint-friendly)."""
    return {
        "frames": torch.cat([e.frames for e in episodes]),
        "actions": torch.cat([e.actions for e in episodes]),
        "rewards": torch.cat([e.rewards for e in episodes]),
        "terminated": torch.cat([e.terminated for e in episodes]),
        "lengths": torch.tensor([len(e) for e in episodes]),
    }


def unpack_episodes(packed: dict[str, torch.Tensor]) -> list[Episode]:
    lengths = packed["lengths"].tolist()
    frames = packed["frames"].split([t + 1 for t in lengths])
    rest = [packed[k].split(lengths) for k in ("actions", "rewards", "terminated")]
    return [Episode(f, a, r, d) for f, a, r, d in zip(frames, *rest, strict=True)]


class LatentAgent:
    """Random warm-up, then fit / train in the dream / act in reality, one phase at a time.

    Args:
        env: the real pixel env (`make_pixel_env`), Discrete actions (only its action space is
            read until the agent plays: `PixelWorldModelAgent` gives a placeholder when loaded
            without an env).
        model: the `LatentWorldModel` to fit (its config holds the fit budgets).
        config: warm-up, episodes per iteration and controller settings.
        seed: every random stream derives from it (`gmrl.core.seeding`).
        device: where PPO runs (the model is placed by the caller).
    """

    def __init__(
        self,
        env: gym.Env,
        model: LatentWorldModel,
        config: LatentAgentConfig | None = None,
        *,
        seed: int = 0,
        device: torch.device | str = "cpu",
    ) -> None:
        # a recipe config may extend LatentAgentConfig with its own keys: keep only ours
        config = config or LatentAgentConfig()
        self.config = LatentAgentConfig.model_validate(
            config.model_dump(include=set(LatentAgentConfig.model_fields))
        )
        self.env, self.model, self.seed, self.device = env, model, seed, torch.device(device)
        self.n_actions = int(env.action_space.n)  # type: ignore[attr-defined]
        self.episodes: list[Episode] = []
        self.real_steps = 0
        self.returns: list[tuple[int, float]] = []  # (real steps, mean return) per iteration
        self.phase = 0  # index into PHASES of the next phase to run
        self.pending: dict[str, float] = {}  # metrics of the current iteration so far
        self.generators = {
            name: torch_generator(seed, f"worldmodel_pixels.{name}")
            for name in ("actions", "fit", "dream", "plan")
        }
        self.ppo: Any = None
        self._stop_requested: Callable[[], bool] | None = None
        self._on_episode: Callable[[], bool] | None = None

    # ------------------------------------------------------------------ warm-up
    @property
    def random_return(self) -> float:
        """Mean return of the random warm-up episodes (the baseline on the plots)."""
        warm = self.episodes[: self.config.random_episodes]
        return float(np.mean([float(e.rewards.sum()) for e in warm]))

    @property
    def warmed_up(self) -> bool:
        """Whether every random warm-up episode has been played."""
        return len(self.episodes) >= self.config.random_episodes

    def warm_up(self, episodes: int | None = None) -> dict[str, float]:
        """Record random-policy episodes (the remaining ones, or at most `episodes` of them);
        returns the step-0 metrics row (over the warm-up episodes played so far)."""
        generator = self.generators["actions"]
        first = len(self.episodes)
        last = self.config.random_episodes if episodes is None else first + episodes
        for index in range(first, min(last, self.config.random_episodes)):
            seed = derive_seed(self.seed, f"worldmodel_pixels.random_episode.{index}")
            episode, env_steps = record_episode(
                self.env, lambda _: int(torch.randint(self.n_actions, (), generator=generator)),
                seed,
            )
            self.episodes.append(episode)
            self.real_steps += env_steps
        return {"charts/episodic_return": self.random_return,
                "charts/real_env_steps": self.real_steps}

    # ------------------------------------------------------------------ one iteration
    def iterate(
        self,
        iteration: int,
        *,
        stop_requested: Callable[[], bool] | None = None,
        stop: Callable[[], None] | None = None,
        on_episode: Callable[[], bool] | None = None,
    ) -> dict[str, float]:
        """Run the remaining phases of `iteration` and return its metrics.

        With `stop_requested` (e.g. `lambda: loop.stop_requested`) and `stop` (e.g.
        `partial(loop.check_stop, iteration - 1)`: checkpoint, then raise), a stop is honoured
        between phases and, within a phase, after the update or episode running: the agent is
        first put back to the phase's start, so the checkpoint `stop` writes is consistent.

        `on_episode()` is called after each real episode of the act phase but its last;
        returning False ends the phase there (the iteration's metrics then cover the episodes
        played).
        """
        self._stop_requested, self._on_episode = stop_requested, on_episode
        while self.phase < len(PHASES):
            snapshot = None
            if stop_requested is not None and stop is not None:
                snapshot = copy.deepcopy(self.state_dict()), rng_state()
            try:
                getattr(self, f"_{PHASES[self.phase]}")(iteration)
            except _StopInPhase:
                assert snapshot is not None and stop is not None
                self.load_state_dict(snapshot[0])
                set_rng_state(snapshot[1])
                stop()
                raise
            self.phase += 1
            if self.phase < len(PHASES) and stop is not None:
                stop()  # a checkpoint only if a stop was requested (TrainingLoop.check_stop)
        metrics, self.pending, self.phase = self.pending, {}, 0
        return metrics

    def _poll(self) -> None:
        """Inside a phase: abandon it if a stop was requested (see `iterate`)."""
        if self._stop_requested is not None and self._stop_requested():
            raise _StopInPhase

    def _fit(self, iteration: int) -> None:
        fit = self.model.fit_episodes(
            self.episodes, generator=self.generators["fit"], on_update=self._poll
        )
        self.model.eval()
        self.pending.update({f"losses/{k}": v for k, v in fit.items()})

    def _controller(self, iteration: int) -> None:
        c = self.config.controller
        if c.kind != "ppo":
            return
        dream = LatentDreamVecEnv(
            self.model, self.model.latent_states(self.model.pad(self.episodes)),
            self.env.action_space, num_envs=c.num_envs, horizon=c.horizon,
            generator=self.generators["dream"],
        )
        if self.ppo is None:
            self.ppo = self._make_ppo(dream)
        else:
            self.ppo.set_env(dream)
        self.ppo.learn(c.dream_steps, reset_num_timesteps=False, callback=_PollCallback(self._poll))
        dream_returns = [info["r"] for info in self.ppo.ep_info_buffer]
        if dream_returns:
            self.pending["charts/dream_return"] = float(np.mean(dream_returns))

    def _make_ppo(self, env: LatentDreamVecEnv) -> Any:
        from gmrl.rl.sb3.factory import algorithm_class, sb3_kwargs

        kwargs = sb3_kwargs(
            "ppo", self.config.controller.ppo, env.action_space, env.observation_space
        )
        return algorithm_class("ppo")(
            env=env, seed=derive_seed(self.seed, "worldmodel_pixels.ppo") % 2**32,
            device=self.device, verbose=0, **kwargs,
        )

    def _policy(self) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[], None] | None]:
        """The controller's `predict(latent states) -> actions`, and a per-episode reset hook."""
        if self.config.controller.kind == "ppo":
            ppo = self.ppo
            return (lambda obs: ppo.predict(obs, deterministic=True)[0]), None
        planner = CEMPlanner(self.model, self.env.action_space, self.config.controller.cem)
        generator = self.generators["plan"]
        return (lambda obs: planner.plan(obs, generator=generator)), planner.reset

    def _act(self, iteration: int) -> None:
        policy, reset = self._policy()
        controller = LatentController(self.model, policy)
        returns = []
        for index in range(self.config.episodes_per_iteration):
            self._poll()
            if reset is not None:
                reset()
            seed = derive_seed(self.seed, f"worldmodel_pixels.episode.{iteration}.{index}")
            episode, episode_return, env_steps = controller.run_episode(self.env, seed=seed)
            self.episodes.append(episode)
            returns.append(episode_return)
            self.real_steps += env_steps
            last = index + 1 == self.config.episodes_per_iteration
            if not last and self._on_episode is not None and not self._on_episode():
                break
        self.returns.append((self.real_steps, float(np.mean(returns))))
        self.pending.update({
            "charts/episodic_return": float(np.mean(returns)),
            "charts/episodic_return_min": float(np.min(returns)),
            "charts/real_env_steps": self.real_steps,
        })

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything the loop's future depends on (see the module docstring)."""
        state: dict[str, Any] = {
            "model": self.model.training_state(),
            "episodes": pack_episodes(self.episodes) if self.episodes else {},
            "real_steps": self.real_steps,
            "returns": [[s, r] for s, r in self.returns],
            "phase": self.phase,
            "pending": dict(self.pending),
            "generators": {k: g.get_state() for k, g in self.generators.items()},
        }
        if self.ppo is not None:
            from gmrl.rl.sb3.state import sb3_state

            state["ppo"] = sb3_state(self.ppo)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_training_state(state["model"])
        self.episodes = unpack_episodes(state["episodes"]) if state["episodes"] else []
        self.real_steps = int(state["real_steps"])
        self.returns = [(int(s), float(r)) for s, r in state["returns"]]
        self.phase = int(state["phase"])
        self.pending = {k: float(v) for k, v in state["pending"].items()}
        for name, generator in self.generators.items():
            generator.set_state(state["generators"][name])
        self.ppo = None
        if "ppo" in state:
            from gmrl.rl.sb3.state import load_sb3_state

            self.ppo = self.make_controller()
            load_sb3_state(self.ppo, state["ppo"])

    def make_controller(self) -> Any:
        """A fresh PPO controller on a placeholder dream, for saved weights or state to fill.

        Building it draws on (and SB3 reseeds) the global random generators.
        """
        placeholder = LatentDreamVecEnv(
            self.model, torch.zeros(1, self.model.state_dim), self.env.action_space,
            num_envs=self.config.controller.num_envs,
        )
        return self._make_ppo(placeholder)

    def save_controller(self, path: str | Path) -> Path | None:
        """The PPO policy's weights as a gmrl artifact (None for the CEM controller)."""
        if self.ppo is None:
            return None
        return save_artifact(
            path, kind="latent_controller", cls=LatentAgent,
            init={"algo": "ppo", "params": json.loads(json.dumps(self.config.controller.ppo)),
                  "state_dim": self.model.state_dim, "n_actions": self.n_actions},
            state=dict(self.ppo.policy.state_dict()),
        )
