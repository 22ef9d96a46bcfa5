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

import time
from collections.abc import Callable
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch

from gmrl.worldmodel.base import WorldModel
from gmrl.worldmodel.buffer import TransitionStore
from gmrl.worldmodel.dream_env import DreamVecEnv
from gmrl.worldmodel.planners import CEMPlanner

Mode = Literal["mpc", "dream"]


class ModelBasedAgent:
    """Alternates world-model fitting and policy improvement on a real Gymnasium env.

    Args:
        make_env: builds a fresh real environment (called for the training env and eval copies).
        model: the world model to fit (e.g. `GaussianEnsemble`).
        mode: "mpc" (plan with `planner_kwargs`) or "dream" (train `sb3_algo` in imagination).
        initial_steps: random real steps before the first fit.
        fit_every: real steps between model refits.
        early_fit_every, early_fit_until: refit every `early_fit_every` real steps while fewer
            than `early_fit_until` have been taken (fresh data matters most while the model is
            poor; warm-started refits are cheap), then every `fit_every`. None: no early phase.
        fit_kwargs: passed to `model.fit` (epochs, patience...).
        planner_kwargs: CEMPlanner settings (horizon, population, elites, iterations, particles).
        planner: "cem" (`CEMPlanner`) or "mcts" (`MCTSPlanner`, discrete actions; then
            `planner_kwargs` go to `gmrl.rl.mcts.MCTS`: n_simulations, max_depth, ...).
        sb3_algo, sb3_kwargs: dream mode: an SB3 class (e.g. SAC) and its keyword arguments.
        dream_envs, dream_horizon, dream_steps, uncertainty_threshold: dream mode: parallel
            imagined rollouts, their length, imagined steps of SB3 training per refit, cut-off.
        seed: seeds the env, the planner's sampling and the model's data splits.
    """

    def __init__(
        self,
        make_env: Callable[[], gym.Env],
        model: WorldModel,
        *,
        mode: Mode = "mpc",
        initial_steps: int = 200,
        fit_every: int = 200,
        early_fit_every: int | None = None,
        early_fit_until: int = 0,
        fit_kwargs: dict[str, Any] | None = None,
        planner_kwargs: dict[str, Any] | None = None,
        planner: Literal["cem", "mcts"] = "cem",
        sb3_algo: Any = None,
        sb3_kwargs: dict[str, Any] | None = None,
        dream_envs: int = 64,
        dream_horizon: int = 5,
        dream_steps: int = 2000,
        uncertainty_threshold: float | None = None,
        seed: int = 0,
    ) -> None:
        if mode not in ("mpc", "dream"):
            raise ValueError(f"mode must be 'mpc' or 'dream', not {mode!r}")
        self.make_env, self.model, self.mode = make_env, model, mode
        self.env = make_env()
        self.initial_steps, self.fit_every = initial_steps, fit_every
        self.early_fit_every, self.early_fit_until = early_fit_every, early_fit_until
        self.fit_kwargs = fit_kwargs or {}
        self.planner_kwargs = planner_kwargs or {}
        self.seed = seed
        self.store = TransitionStore()
        self.real_steps = 0
        self.fits = 0
        self.episode_returns: list[float] = []
        self.last_fit: dict[str, float] = {}
        self.generator = torch.Generator().manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.env.action_space.seed(seed)
        self._obs, _ = self.env.reset(seed=seed)
        self._episode_return = 0.0
        self._since_fit = 0
        self.planner_kind = planner
        self.planner = self._make_planner(self.env)
        self.sb3: Any = None
        if mode == "dream":
            if sb3_algo is None:
                raise ValueError("dream mode needs sb3_algo (e.g. stable_baselines3.SAC)")
            self.dream = DreamVecEnv(
                model,
                lambda n, rng: self.store.sample_obs(n, rng),
                self.env.observation_space,
                self.env.action_space,
                num_envs=dream_envs,
                horizon=dream_horizon,
                uncertainty_threshold=uncertainty_threshold,
                seed=seed,
            )
            self.sb3 = sb3_algo("MlpPolicy", self.dream, seed=seed, verbose=0, **(sb3_kwargs or {}))
            self.dream_steps = dream_steps
        self.timings = {"fit_s": 0.0, "policy_s": 0.0, "act_s": 0.0}

    def _make_planner(self, env: gym.Env) -> Any:
        if self.planner_kind == "mcts":
            from gmrl.worldmodel.search_adapter import MCTSPlanner

            if not hasattr(env.action_space, "n"):
                raise ValueError("MCTS plans over Discrete actions: use planner='cem'")
            return MCTSPlanner(
                self.model, int(env.action_space.n), seed=self.seed, **self.planner_kwargs
            )
        return CEMPlanner(self.model, env.action_space, **self.planner_kwargs)

    # ------------------------------------------------------------------ acting
    def act(self, obs: np.ndarray, *, explore: bool = True, planner: Any = None) -> Any:
        """Actions for a batch of real observations `(N, *obs_shape)`."""
        if self.mode == "dream":
            action, _ = self.sb3.predict(obs, deterministic=not explore)
            return action
        return (planner or self.planner).plan(obs, generator=self.generator)

    def _record(
        self, obs: Any, action: Any, reward: float, next_obs: Any, term: bool, trunc: bool
    ) -> None:
        self.store.add(
            obs=np.asarray(obs, dtype=np.float32)[None],
            action=np.asarray(action)[None],
            reward=np.array([reward], dtype=np.float32),
            next_obs=np.asarray(next_obs, dtype=np.float32)[None],
            terminated=np.array([term]),
            truncated=np.array([trunc]),
        )

    # ------------------------------------------------------------------ learning
    def fit_model(self) -> dict[str, float]:
        """Refit the world model on every real transition, then improve the policy (dream)."""
        start = time.perf_counter()
        self.last_fit = self.model.fit(
            self.store.tensors(), generator=self.generator, **self.fit_kwargs
        )
        self.timings["fit_s"] += time.perf_counter() - start
        self.fits += 1
        self._since_fit = 0
        if self.mode == "dream":
            start = time.perf_counter()
            self.sb3.learn(self.dream_steps, reset_num_timesteps=False)
            self.timings["policy_s"] += time.perf_counter() - start
        return self.last_fit

    def _fit_interval(self) -> int:
        """Real steps between refits now: `early_fit_every` in the early phase, else `fit_every`."""
        if self.early_fit_every is not None and self.real_steps < self.early_fit_until:
            return self.early_fit_every
        return self.fit_every

    def train(self, real_steps: int) -> None:
        """Advance `real_steps` real env steps, refitting the model on schedule."""
        for _ in range(real_steps):
            if self.real_steps >= self.initial_steps and (
                self.fits == 0 or self._since_fit >= self._fit_interval()
            ):
                self.fit_model()
            start = time.perf_counter()
            if self.fits == 0:
                action = self.env.action_space.sample()
            else:
                action = np.asarray(self.act(self._obs[None]))[0]
            next_obs, reward, term, trunc, _ = self.env.step(action)
            self.timings["act_s"] += time.perf_counter() - start
            self._record(self._obs, action, float(reward), next_obs, term, trunc)
            self.real_steps += 1
            self._since_fit += 1
            self._episode_return += float(reward)
            self._obs = next_obs
            if term or trunc:
                self.episode_returns.append(self._episode_return)
                self._episode_return = 0.0
                self._obs, _ = self.env.reset()
                self.planner.reset()

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, episodes: int = 10, *, seed: int = 10_000) -> float:
        """Mean return of `episodes` full episodes (env copies seeded seed, seed+1, ...)."""
        if self.fits == 0:
            raise RuntimeError("evaluate after the first model fit (train past initial_steps)")
        return evaluate_policy(
            self.make_env,
            lambda obs, planner: self.act(obs, explore=False, planner=planner),
            episodes=episodes,
            seed=seed,
            planner_factory=self._make_planner if self.mode == "mpc" else None,
        )

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "model": self.model.state_dict(),
            "store": self.store.state_dict(),
            "real_steps": self.real_steps,
            "fits": self.fits,
            "since_fit": self._since_fit,
            "episode_returns": list(self.episode_returns),
            "generator": self.generator.get_state(),
        }
        if self.sb3 is not None:
            state["sb3_policy"] = self.sb3.policy.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.store.load_state_dict(state["store"])
        self.real_steps, self.fits = int(state["real_steps"]), int(state["fits"])
        self._since_fit = int(state["since_fit"])
        self.episode_returns = [float(r) for r in state["episode_returns"]]
        self.generator.set_state(state["generator"])
        if self.sb3 is not None and "sb3_policy" in state:
            self.sb3.policy.load_state_dict(state["sb3_policy"])
        # the real env cannot be checkpointed: a resumed run starts a fresh episode
        self._obs, _ = self.env.reset(seed=self.seed + self.real_steps)
        self._episode_return = 0.0
        self.planner.reset()


def evaluate_policy(
    make_env: Callable[[], gym.Env],
    policy: Callable[[np.ndarray, Any], Any],
    *,
    episodes: int = 10,
    seed: int = 10_000,
    planner_factory: Callable[[gym.Env], Any] | None = None,
) -> float:
    """Mean undiscounted return of `episodes` episodes played in lockstep on env copies.

    `policy(obs_batch, planner)` gets the stacked observations of all copies (finished ones keep
    their last observation and are ignored) and the planner built by `planner_factory` (a fresh
    one per evaluation, so the training planner's warm start is untouched).
    """
    envs = [make_env() for _ in range(episodes)]
    obs = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(envs)])
    returns = np.zeros(episodes)
    done = np.zeros(episodes, dtype=bool)
    planner = planner_factory(envs[0]) if planner_factory is not None else None
    while not done.all():
        actions = policy(obs, planner)
        for i, env in enumerate(envs):
            if done[i]:
                continue
            next_obs, reward, term, trunc, _ = env.step(actions[i])
            returns[i] += float(reward)
            obs[i] = next_obs
            done[i] = term or trunc
    for env in envs:
        env.close()
    return float(returns.mean())
