"""The model-based loop: act in the real env, fit the world model, improve the policy, repeat.

Two ways to turn the model into behaviour (`mode`):

- `"mpc"` (PETS): no policy network; at every real step a planner (CEM over the ensemble)
  searches for the best action sequence in imagination and executes its first action.
- `"dream"` (Dyna / MBPO): an SB3 agent learns inside `DreamVecEnv` (short imagined rollouts
  branched from real states), then acts in the real env; its real experience refits the model.

`ModelBasedAgent.train(n)` advances `n` real env steps: the first `initial_steps` are random,
then the model is refit every `fit_every` real steps and the policy acts. `evaluate` plays whole
episodes on separate env copies, all in lockstep, so the planner runs once for all of them.
"""

import json
import time
from collections.abc import Callable
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from pydantic import Field

from gmrl.core.config import StrictModel
from gmrl.core.seeding import OwnedGlobalRng, derive_seed, env_reset_seed, torch_generator
from gmrl.rl.rollout import PolicyFunction, evaluate_agent
from gmrl.worldmodel.base import WorldModel, reward_scale
from gmrl.worldmodel.buffer import TransitionStore
from gmrl.worldmodel.dream_env import DreamVecEnv
from gmrl.worldmodel.planners import CEMConfig, CEMPlanner, colored_noise
from gmrl.worldmodel.search_adapter import MCTSConfig
from gmrl.worldmodel.value import TerminalValue, ValueConfig

Mode = Literal["mpc", "dream"]


class PlannerConfig(CEMConfig):
    """MPC planner: CEM (its settings at this level) or MCTS (`mcts`, Discrete actions)."""

    kind: Literal["cem", "mcts"] = Field(
        default="cem", description="cem, or mcts (Discrete actions)"
    )
    mcts: MCTSConfig = Field(default_factory=MCTSConfig, description="kind=mcts settings")

    def cem(self) -> CEMConfig:
        """The CEM part alone."""
        return CEMConfig.model_validate(self.model_dump(include=set(CEMConfig.model_fields)))


class DreamConfig(StrictModel):
    """Dream mode (MBPO): an SB3 agent trained in short imagined rollouts after every refit."""

    algo: Literal["sac", "td3", "ppo", "a2c", "dqn"] = Field(
        default="sac", description="SB3 algorithm"
    )
    envs: int = Field(default=64, ge=1, description="parallel imagined rollouts")
    horizon: int = Field(
        default=10, ge=1, description="imagined steps per rollout (MBPO: short, 1-15)"
    )
    steps: int = Field(
        default=4000, ge=1, description="imagined steps of SB3 training per refit (with envs "
        "64 and gradient_steps 16: 1,000 off-policy updates per refit)",
    )
    gradient_steps: int = Field(
        default=16, ge=1, description="off-policy updates per vector step of the dream envs "
        "(SB3's default of 1 gives one update per `envs` imagined transitions: far too few); "
        "params.gradient_steps overrides it",
    )
    buffer_size: int = Field(
        default=100_000, ge=1, description="imagined transitions an off-policy agent keeps "
        "(SB3's 1e6 would keep rollouts of long-gone models); params.buffer_size overrides it",
    )
    uncertainty_threshold: float | None = Field(
        default=None, gt=0, description="cut rollouts where members disagree more (None: never)"
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="SB3 hyper-parameters, as in the rl recipe's params"
    )


class AgentConfig(StrictModel):
    """How the model-based agent behaves: mode, refit schedule, planner and dream settings."""

    mode: Mode = Field(
        default="mpc", description="plan with the planner, or train SB3 in the dream"
    )
    planner: PlannerConfig = Field(default_factory=PlannerConfig)
    dream: DreamConfig = Field(default_factory=DreamConfig)
    value: ValueConfig = Field(
        default_factory=ValueConfig, description="terminal value of the MPC planner"
    )
    initial_steps: int = Field(
        default=100, ge=1, description="random real steps before the first fit"
    )
    fit_every: int = Field(default=250, ge=1, description="real steps between model refits")
    early_fit_every: int | None = Field(
        default=None, ge=1, description="refit interval before early_fit_until (None: off)"
    )
    early_fit_until: int = Field(
        default=0, ge=0, description="end of the early, frequent-refit phase"
    )


class ModelBasedAgent:
    """Alternates world-model fitting and policy improvement on a real Gymnasium env.

    Args:
        make_env: builds a fresh real environment (called for the training env and eval copies).
        model: the world model to fit (e.g. `GaussianEnsemble`; its config holds the fit budget).
        config: mode, refit schedule, planner and dream settings (`AgentConfig`).
        seed: every random stream of the agent derives from it (`gmrl.core.seeding`): training
            episodes' resets, random warm-up actions, model fits, planning, the dream, SB3 (which
            draws from the global generators, so it gets its own copy of them: `sb3_rng`). The
            model's and the terminal value's initial weights come from torch's global generator
            as it stands when they are built: seed it first (`gmrl run` does; the agent contract's
            `WorldModelAgent` builds both under a generator seeded with `seed`).

    Refit schedule: the first `initial_steps` real steps are random (for Box actions with the
    planner's `noise_beta > 0`, one colored-noise sequence: temporally correlated pushes reach
    far more of the state space than white noise, e.g. MountainCarContinuous's flag, where
    white noise never gets); then the model is refit
    every `fit_every` real steps (every `early_fit_every` while fewer than `early_fit_until`
    have been taken: fresh data matters most while the model is poor).

    Checkpoints (`state_dict`) hold everything the future depends on: the model and its
    optimizer, every real transition, counters, the last fit's metrics, each random stream,
    the planner's warm start and the SB3 agent's full state (its generators included). The
    real env cannot be saved, so every training episode starts from its own derived reset seed
    and a restored agent replays the current episode's recorded actions: a resumed run
    continues exactly.
    """

    def __init__(
        self,
        make_env: Callable[[], gym.Env],
        model: WorldModel,
        config: AgentConfig | None = None,
        *,
        seed: int = 0,
    ) -> None:
        # a recipe config may extend AgentConfig with its own keys: keep only ours
        config = config or AgentConfig()
        self.config = AgentConfig.model_validate(
            config.model_dump(include=set(AgentConfig.model_fields))
        )
        c = self.config
        self.make_env, self.model, self.mode = make_env, model, c.mode
        self.env = make_env()
        self.initial_steps, self.fit_every = c.initial_steps, c.fit_every
        self.early_fit_every, self.early_fit_until = c.early_fit_every, c.early_fit_until
        self.seed = seed
        self.store = TransitionStore()
        self.real_steps = 0
        self.fits = 0
        self.episodes = 0  # training episodes started before the current one
        self.episode_steps = 0  # real steps taken in the current episode
        self.episode_returns: list[float] = []
        self.last_fit: dict[str, float] = {}
        self.fit_generator = torch_generator(seed, "worldmodel.fit")
        self.plan_generator = torch_generator(seed, "worldmodel.plan")
        self.env.action_space.seed(derive_seed(seed, "worldmodel.random_actions"))
        self._warmup_actions = self._colored_warmup(c)
        self._obs, _ = self.env.reset(seed=self._episode_seed(0))
        self._episode_return = 0.0
        self._since_fit = 0
        self.value: TerminalValue | None = None
        if c.value.enabled and c.mode == "mpc":
            obs_dim = int(np.prod(self.env.observation_space.shape or (1,)))
            self.value = TerminalValue(obs_dim, c.value).to(model.device)
        self.reward_scale = 1.0
        self.planner = self._make_planner(self.env)
        self.sb3: Any = None
        self.dream: DreamVecEnv | None = None
        self.sb3_rng: OwnedGlobalRng | None = None
        if c.mode == "dream":
            self.sb3, self.dream = self._make_dream_agent(c.dream)
        self.timings = {"fit_s": 0.0, "policy_s": 0.0, "act_s": 0.0, "plan_s": 0.0}

    def _colored_warmup(self, config: AgentConfig) -> np.ndarray | None:
        """The random phase's Box actions as one colored-noise sequence `(initial_steps, A)`
        (each dimension clipped to +-1 std, then mapped onto the bounds), derived from the seed
        alone so that a resumed run draws the same; None: sample the action space (white)."""
        space, beta = self.env.action_space, config.planner.noise_beta
        if not isinstance(space, gym.spaces.Box) or beta <= 0:
            return None
        low, high = space.low.reshape(-1), space.high.reshape(-1)
        if not (np.isfinite(low).all() and np.isfinite(high).all()):
            return None
        generator = torch_generator(self.seed, "worldmodel.random_actions.colored")
        noise = colored_noise((low.size,), max(self.initial_steps, 2), beta, generator)
        unit = noise.clamp(-1.0, 1.0).t().numpy().astype(np.float64)
        actions = (low + high) / 2 + unit * (high - low) / 2
        return actions.reshape(-1, *space.shape).astype(space.dtype)

    def _random_action(self) -> Any:
        """An action of the random phase (before the first fit)."""
        if self._warmup_actions is None:
            return self.env.action_space.sample()
        return self._warmup_actions[self.real_steps % len(self._warmup_actions)]

    def _episode_seed(self, index: int) -> int:
        return env_reset_seed(self.seed, f"worldmodel.train_episode.{index}")

    def _make_planner(self, env: gym.Env) -> Any:
        planner = self.config.planner
        if planner.kind == "mcts":
            from gmrl.worldmodel.search_adapter import MCTSPlanner

            if not hasattr(env.action_space, "n"):
                raise ValueError("MCTS plans over Discrete actions: use planner kind 'cem'")
            return MCTSPlanner(
                self.model, int(env.action_space.n), planner.mcts,
                seed=derive_seed(self.seed, "worldmodel.mcts"),
            )
        cem = CEMPlanner(self.model, env.action_space, planner.cem())
        if self.value is not None:
            cem.terminal_value, cem.discount = self.value, self.config.value.discount
        cem.reward_scale = self.reward_scale
        return cem

    def _make_dream_agent(self, dream: "DreamConfig") -> tuple[Any, DreamVecEnv]:
        from gmrl.rl.sb3.factory import algorithm_class, sb3_kwargs

        env = DreamVecEnv(
            self.model,
            lambda n, rng: self.store.sample_obs(n, rng),
            self.env.observation_space,  # type: ignore[arg-type]
            self.env.action_space,
            num_envs=dream.envs,
            horizon=dream.horizon,
            uncertainty_threshold=dream.uncertainty_threshold,
            seed=derive_seed(self.seed, "worldmodel.dream"),
        )
        kwargs = sb3_kwargs(
            dream.algo, dream.params, self.env.action_space, self.env.observation_space
        )
        if dream.algo in ("sac", "td3", "dqn"):
            kwargs.setdefault("gradient_steps", dream.gradient_steps)
            kwargs.setdefault("buffer_size", dream.buffer_size)
        sb3_seed = derive_seed(self.seed, "worldmodel.sb3") % 2**32
        # SB3 draws from the global generators: it gets its own copy of them, swapped in around
        # every call that may draw (built here, `learn` in `fit_model`, sampled actions in `act`)
        self.sb3_rng = OwnedGlobalRng(sb3_seed)
        with self.sb3_rng.active():
            agent = algorithm_class(dream.algo)(
                env=env, seed=sb3_seed, device="cpu", verbose=0, **kwargs,
            )
        return agent, env

    # ------------------------------------------------------------------ acting
    def act(self, obs: np.ndarray, *, explore: bool = True, planner: Any = None) -> Any:
        """Actions for a batch of real observations `(N, *obs_shape)`."""
        if self.mode == "dream":
            if not explore:
                return self.sb3.predict(obs, deterministic=True)[0]
            assert self.sb3_rng is not None
            with self.sb3_rng.active():
                action, _ = self.sb3.predict(obs, deterministic=False)
            return action
        start = time.perf_counter()
        action = (planner or self.planner).plan(
            obs, generator=self.plan_generator, explore=explore
        )
        if planner is None:
            self.timings["plan_s"] += time.perf_counter() - start
        return action

    # ------------------------------------------------------------------ learning
    def fit_model(self) -> dict[str, float]:
        """Refit the world model on every real transition, then improve the policy (dream)."""
        start = time.perf_counter()
        data = self.store.tensors()
        self.last_fit = self.model.fit(data, generator=self.fit_generator)
        if self.value is not None:
            self.last_fit.update(self.value.fit(data, generator=self.fit_generator))
        self._set_reward_scale(reward_scale(data["reward"]))
        self.timings["fit_s"] += time.perf_counter() - start
        self.fits += 1
        self._since_fit = 0
        if self.mode == "dream":
            start = time.perf_counter()
            self.sb3._last_obs = None  # new model: restart imagined rollouts from real states
            assert self.sb3_rng is not None
            with self.sb3_rng.active():
                self.sb3.learn(self.config.dream.steps, reset_num_timesteps=False)
            self.timings["policy_s"] += time.perf_counter() - start
        return self.last_fit

    def _set_reward_scale(self, scale: float) -> None:
        """The exploration bonus's unit, for this agent's planner and the ones it builds later."""
        self.reward_scale = scale
        if isinstance(self.planner, CEMPlanner):
            self.planner.reward_scale = scale

    def _fit_interval(self) -> int:
        """Real steps between refits now: `early_fit_every` in the early phase, else `fit_every`."""
        if self.early_fit_every is not None and self.real_steps < self.early_fit_until:
            return self.early_fit_every
        return self.fit_every

    def train(self, real_steps: int, callback: Callable[[], bool | None] | None = None) -> None:
        """Advance `real_steps` real env steps, refitting the model on schedule.

        `callback()` runs after every real step; returning False stops early (what the agent
        contract's `learn` passes on: `gmrl.worldmodel.contract.WorldModelAgent`).
        """
        for _ in range(real_steps):
            if self.real_steps >= self.initial_steps and (
                self.fits == 0 or self._since_fit >= self._fit_interval()
            ):
                self.fit_model()
            start = time.perf_counter()
            if self.fits == 0:
                action = self._random_action()
            else:
                action = np.asarray(self.act(self._obs[None]))[0]
            next_obs, reward, term, trunc, _ = self.env.step(action)
            self.timings["act_s"] += time.perf_counter() - start
            self.store.add_step(self._obs, action, float(reward), next_obs, term, trunc)
            self.real_steps += 1
            self.episode_steps += 1
            self._since_fit += 1
            self._episode_return += float(reward)
            self._obs = next_obs
            if term or trunc:
                self.episode_returns.append(self._episode_return)
                self._episode_return = 0.0
                self.episodes += 1
                self.episode_steps = 0
                self._obs, _ = self.env.reset(seed=self._episode_seed(self.episodes))
                self.planner.reset()
            if callback is not None and callback() is False:
                return

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, episodes: int = 10, *, seed: int | None = None) -> float:
        """Mean return of `episodes` full episodes (env copies seeded seed, seed+1, ...).

        `seed` defaults to the agent's derived evaluation seed. Needs a fitted model: the
        recipes refuse configs that would evaluate before the first fit.
        """
        if self.fits == 0:
            raise RuntimeError("evaluate after the first model fit (train past initial_steps)")
        start = env_reset_seed(self.seed, "worldmodel.eval") if seed is None else seed
        # a fresh planner per evaluation: the training planner's warm start is untouched
        planner = self._make_planner(self.env) if self.mode == "mpc" else None
        policy = PolicyFunction(lambda obs: self.act(obs, explore=False, planner=planner))
        returns = evaluate_agent(policy, self.make_env, episodes=episodes,
                                 reset_seeds=range(start, start + episodes))
        return float(returns.mean())

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed agent needs to continue exactly (see the class docstring)."""
        state: dict[str, Any] = {
            "model": self.model.training_state(),
            "store": self.store.state_dict(),
            "real_steps": self.real_steps,
            "fits": self.fits,
            "since_fit": self._since_fit,
            "episodes": self.episodes,
            "episode_steps": self.episode_steps,
            "episode_return": self._episode_return,
            "episode_returns": list(self.episode_returns),
            "last_fit": dict(self.last_fit),
            "fit_generator": self.fit_generator.get_state(),
            "plan_generator": self.plan_generator.get_state(),
            "random_actions": json.dumps(self.env.action_space.np_random.bit_generator.state),
            "planner": self.planner.state_dict(),
            "reward_scale": self.reward_scale,
        }
        if self.value is not None:
            state["value"] = self.value.training_state()
        if self.sb3 is not None:
            from gmrl.rl.sb3.state import sb3_state

            assert self.dream is not None and self.sb3_rng is not None
            state["sb3"] = sb3_state(self.sb3)
            state["dream"] = self.dream.state_dict()
            state["sb3_rng"] = self.sb3_rng.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of `state_dict`; the real env is brought back by replaying the episode."""
        self.model.load_training_state(state["model"])
        self.store.load_state_dict(state["store"])
        self.real_steps, self.fits = int(state["real_steps"]), int(state["fits"])
        self._since_fit = int(state["since_fit"])
        self.episodes, self.episode_steps = int(state["episodes"]), int(state["episode_steps"])
        self._episode_return = float(state["episode_return"])
        self.episode_returns = [float(r) for r in state["episode_returns"]]
        self.last_fit = {k: float(v) for k, v in state["last_fit"].items()}
        self.fit_generator.set_state(state["fit_generator"])
        self.plan_generator.set_state(state["plan_generator"])
        self.env.action_space.np_random.bit_generator.state = json.loads(state["random_actions"])
        self.planner.load_state_dict(state["planner"])
        self._set_reward_scale(float(state.get("reward_scale", 1.0)))
        if self.value is not None:
            self.value.load_training_state(state["value"])
        if self.sb3 is not None:
            from gmrl.rl.sb3.state import load_sb3_state

            assert self.dream is not None and self.sb3_rng is not None
            load_sb3_state(self.sb3, state["sb3"])
            self.dream.load_state_dict(state["dream"])
            if "sb3_rng" in state:  # absent from checkpoints of earlier versions
                self.sb3_rng.load_state_dict(state["sb3_rng"])
        self._replay_episode()

    def _replay_episode(self) -> None:
        """Reset the real env with the current episode's seed and replay its actions."""
        self._obs, _ = self.env.reset(seed=self._episode_seed(self.episodes))
        if self.episode_steps == 0:
            return
        actions = self.store.tensors()["action"][-self.episode_steps :].numpy()
        recorded = self.store.tensors()["next_obs"][-1].numpy()
        for action in actions:
            self._obs, *_ = self.env.step(action)
        if not np.allclose(np.asarray(self._obs, dtype=np.float32), recorded):
            from gmrl.core.errors import CheckpointError

            raise CheckpointError(
                "replaying the current episode did not reproduce the recorded state: the env "
                "is not deterministic given its reset seed, so this run cannot resume exactly"
            )
