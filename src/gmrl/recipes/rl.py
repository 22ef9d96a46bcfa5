"""Train any gmrl or Stable-Baselines3 algorithm on any Gymnasium env, with periodic evaluation.

```
gmrl run configs/rl/cartpole.yaml                      # SB3 PPO on CartPole-v1
gmrl run configs/rl/frozenlake.yaml algo=sarsa         # tabular SARSA instead of Q-learning
gmrl run configs/rl/cartpole_reinforce.yaml seed=3
```

Algorithms: q_learning, sarsa (budget in episodes), value_iteration, policy_iteration (no env
interaction: solved from env.unwrapped.P), mcts (plans with a model of the env; no training,
`episodes` evaluation episodes are run), reinforce, actor_critic (gmrl), ppo, a2c, dqn, sac, td3
(Stable-Baselines3). `prepare` checks the env id, the algorithm/space match and the
hyper-parameter names before the run directory exists.

Logged against env steps: training episode returns (`charts/episodic_return`), losses, SB3's own
logger values, and `eval/mean_return` / `eval/std_return` every `eval_every` steps (episodes for
tabular methods) over `eval_episodes` deterministic episodes. A learning curve goes to
`plots/learning_curve.png`; checkpoints (safetensors) are written at each evaluation for the
gmrl policy-gradient agents and SB3 agents (policy weights only: SB3 optimizer state and replay
buffers are not saved, so a resumed SB3 run continues from the weights with a fresh optimizer).
"""

from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from gmrl.core.config import RecipeConfig
from gmrl.core.errors import ConfigError, RunInterrupted
from gmrl.core.rundir import RunDir
from gmrl.core.seeding import seed_everything

SUMMARY = "train any RL algorithm (tabular, DP, MCTS, REINFORCE, A2C, SB3) on a Gymnasium env"

TABULAR = ("q_learning", "sarsa")
DP = ("value_iteration", "policy_iteration")
PG = ("reinforce", "actor_critic")
SB3 = ("ppo", "a2c", "dqn", "sac", "td3")
Algo = Literal[
    "q_learning", "sarsa", "value_iteration", "policy_iteration", "mcts",
    "reinforce", "actor_critic", "ppo", "a2c", "dqn", "sac", "td3",
]
EVAL_SEED = 10_000  # evaluation episodes use seeds EVAL_SEED + seed*100 + i, never training's


class Config(RecipeConfig):
    """An RL training run: which algorithm, which env, how long, how often to evaluate."""

    recipe: Literal["rl"] = "rl"
    algo: Algo = Field(description="algorithm name (see `gmrl list`)")
    env: str = Field(description="Gymnasium id (CartPole-v1) or 'package.module:ClassName'")
    env_kwargs: dict[str, Any] = Field(default_factory=dict, description="passed to the env")
    total_steps: int | None = Field(None, ge=1, description="env-step budget")
    episodes: int | None = Field(
        None, ge=1, description="episode budget (tabular; reinforce/actor_critic; mcts evaluation)"
    )
    eval_every: int | None = Field(
        None, ge=1, description="evaluate every N env steps (episodes for tabular); default 10x"
    )
    eval_episodes: int = Field(10, ge=1, description="episodes per evaluation")
    params: dict[str, Any] = Field(default_factory=dict, description="algorithm hyper-parameters")

    @model_validator(mode="after")
    def _budget(self) -> "Config":
        if self.algo in TABULAR and self.episodes is None:
            raise ValueError(f"{self.algo} counts its budget in episodes: set 'episodes'")
        if self.algo in SB3 and self.total_steps is None:
            raise ValueError(f"{self.algo} counts its budget in env steps: set 'total_steps'")
        if self.algo in PG and self.total_steps is None and self.episodes is None:
            raise ValueError(f"{self.algo} needs a budget: set 'total_steps' or 'episodes'")
        return self

    def budget(self) -> int:
        """The budget in the unit that `eval_every` counts (episodes for tabular, else steps)."""
        if self.algo in TABULAR or (self.algo in PG and self.total_steps is None):
            return int(self.episodes or 0)
        return int(self.total_steps or self.episodes or 0)

    def eval_interval(self) -> int:
        return self.eval_every or max(self.budget() // 10, 1)


# ----------------------------------------------------------------------------- validation
def prepare(config: Config) -> None:
    """Check env, algorithm/space match and hyper-parameter names before any work starts."""
    from gmrl.rl.envs import check_algorithm_supports, make_env

    env = make_env(config.env, **config.env_kwargs)
    try:
        check_algorithm_supports(config.algo, env)  # mcts: also that gmrl has a model of env
    finally:
        env.close()
    _check_params(config)


def _check_params(config: Config) -> None:
    if config.algo in SB3:
        from gmrl.rl.sb3 import check_sb3_params

        check_sb3_params(config.algo, config.params)
    elif config.algo in PG:
        from gmrl.core.config import validate_config

        validate_config(_pg_class(config.algo).config_class, config.params,
                        f"{config.algo} params")
    else:
        import inspect

        allowed = set(inspect.signature(_classic_function(config.algo)).parameters)
        allowed -= {"self", "env", "model", "episodes", "seed", "callback", "value_fn", "prior_fn"}
        for key in config.params:
            if key not in allowed:
                import difflib

                close = difflib.get_close_matches(key, sorted(allowed), n=1)
                hint = f"; did you mean 'params.{close[0]}'?" if close else ""
                raise ConfigError(
                    f"{config.algo}: unknown key 'params.{key}'{hint} "
                    f"(allowed: {', '.join(sorted(allowed))})"
                )


def _pg_class(algo: str) -> Any:
    from gmrl.rl.policy_gradient.actor_critic import ActorCritic
    from gmrl.rl.policy_gradient.reinforce import Reinforce

    return {"reinforce": Reinforce, "actor_critic": ActorCritic}[algo]


def _classic_function(algo: str) -> Any:
    if algo in TABULAR:
        from gmrl.rl import tabular

        return getattr(tabular, algo)
    if algo in DP:
        from gmrl.rl import dynamic_programming

        return getattr(dynamic_programming, algo)
    from gmrl.rl.mcts import MCTS

    return MCTS.__init__


def _search_model(env: Any) -> Any:
    """The model MCTS plans with for `env` (a one-line EnvError when gmrl has none)."""
    from gmrl.rl.search_model import search_model_for

    return search_model_for(env)


# ----------------------------------------------------------------------------- running
class _Tracker:
    """Evaluation history, plotting data and the metrics shared by every algorithm's loop."""

    def __init__(self, config: Config, run: RunDir) -> None:
        self.config, self.run = config, run
        self.eval_steps: list[int] = []
        self.eval_returns: list[float] = []
        self.train_steps: list[int] = []
        self.train_returns: list[float] = []
        self.next_eval = config.eval_interval()
        self.eval_round = 0

    def episode(self, step: int, episode_return: float) -> None:
        self.train_steps.append(step)
        self.train_returns.append(float(episode_return))

    def evaluate(self, step: int, act: Any, *, single: bool = False) -> float:
        """Run `eval_episodes` deterministic episodes and log eval/mean_return at `step`."""
        from gmrl.rl.envs import evaluate_policy

        seed = EVAL_SEED + 100 * self.config.seed
        if single:
            returns = _evaluate_sequential(act, self.config, seed)
        else:
            returns = evaluate_policy(act, self.config.env, episodes=self.config.eval_episodes,
                                      seed=seed, env_kwargs=self.config.env_kwargs)
        mean = float(np.mean(returns))
        self.eval_steps.append(step)
        self.eval_returns.append(mean)
        self.eval_round += 1
        self.run.log(step, {"eval/mean_return": mean, "eval/std_return": float(np.std(returns))})
        return mean

    def state(self) -> dict[str, Any]:
        return {"eval_steps": list(self.eval_steps), "eval_returns": list(self.eval_returns),
                "train_steps": list(self.train_steps), "train_returns": list(self.train_returns),
                "next_eval": self.next_eval}

    def restore(self, state: dict[str, Any]) -> None:
        self.eval_steps = [int(s) for s in state["eval_steps"]]
        self.eval_returns = [float(r) for r in state["eval_returns"]]
        self.train_steps = [int(s) for s in state["train_steps"]]
        self.train_returns = [float(r) for r in state["train_returns"]]
        self.next_eval = int(state["next_eval"])

    def summary(self, **extra: float) -> dict[str, float]:
        final = self.eval_returns[-1] if self.eval_returns else float("nan")
        return {"final_mean_return": final,
                "best_mean_return": max(self.eval_returns, default=float("nan")), **extra}


def _evaluate_sequential(act: Any, config: Config, seed: int) -> np.ndarray:
    """Episodes one after another (for planners that act on one observation at a time)."""
    from gmrl.rl.envs import EVAL_STEP_CAP, make_env

    env = make_env(config.env, check=False, **config.env_kwargs)
    returns = np.zeros(config.eval_episodes)
    try:
        for i in range(config.eval_episodes):
            obs, _ = env.reset(seed=seed + i)
            for _ in range(EVAL_STEP_CAP):
                obs, reward, terminated, truncated, _ = env.step(act(obs))
                returns[i] += float(reward)
                if terminated or truncated:
                    break
    finally:
        env.close()
    return returns


def run(config: Config, run: RunDir) -> dict[str, float]:
    """Train `config.algo` on `config.env`, evaluating periodically; returns the summary."""
    from gmrl.core.device import resolve_device, torch_threads

    seed_everything(config.seed)
    tracker = _Tracker(config, run)
    # These networks are tiny: extra intra-op threads only spin (rl-zoo does the same).
    with torch_threads(1 if resolve_device(config.device).type == "cpu" else None):
        summary = _dispatch(config, run, tracker)
    _plot(tracker, config, run)
    run.flush()
    return summary


def _dispatch(config: Config, run: RunDir, tracker: _Tracker) -> dict[str, float]:
    if config.algo in TABULAR:
        summary = _run_tabular(config, run, tracker)
    elif config.algo in DP:
        summary = _run_dp(config, run, tracker)
    elif config.algo == "mcts":
        summary = _run_mcts(config, run, tracker)
    elif config.algo in PG:
        summary = _run_policy_gradient(config, run, tracker)
    else:
        summary = _run_sb3(config, run, tracker)
    return summary


def _run_tabular(config: Config, run: RunDir, tracker: _Tracker) -> dict[str, float]:
    from gmrl.rl.envs import make_env

    env = make_env(config.env, check=False, **config.env_kwargs)
    train = _classic_function(config.algo)
    steps = 0
    interrupted = False

    with run.progress() as progress:
        task = progress.add_task(config.algo, total=config.episodes, info="")

        def callback(stats: Any) -> bool | None:
            nonlocal steps, interrupted
            steps += int(stats.length)
            tracker.episode(steps, stats.episode_return)
            run.log(steps, {"charts/episodic_return": stats.episode_return,
                            "charts/episodic_length": stats.length,
                            "charts/epsilon": stats.epsilon, "charts/alpha": stats.alpha})
            done = stats.episode + 1
            progress.update(task, completed=done, info=f"return {stats.episode_return:.2f}")
            if done >= tracker.next_eval or done == config.episodes:
                tracker.next_eval += config.eval_interval()
                policy = stats.q.argmax(axis=1)
                tracker.evaluate(steps, lambda obs: policy[np.asarray(obs, dtype=np.int64)])
            if run.stop_requested:
                interrupted = True
                return False
            return None

        try:
            result = train(env, episodes=config.episodes, seed=config.seed, callback=callback,
                           **_tabular_params(config.params))
        finally:
            env.close()
    run.save_checkpoint(steps, {"q": _tensor(result.q)}, algo=config.algo)
    if interrupted:  # a tabular run restarts from scratch on resume (it takes seconds)
        raise RunInterrupted(steps)
    return tracker.summary(env_steps=float(steps), episodes=float(result.episodes))


def _tabular_params(params: dict[str, Any]) -> dict[str, Any]:
    """YAML schedules `{type: linear, start: 1.0, end: 0.05, fraction: 0.5}` -> Schedule objects."""
    from gmrl.rl import tabular

    kinds = {"constant": tabular.Constant, "linear": tabular.Linear,
             "exponential": tabular.Exponential}
    converted = dict(params)
    for key in ("alpha", "epsilon"):
        value = converted.get(key)
        if isinstance(value, dict):
            spec = dict(value)
            kind = str(spec.pop("type", ""))
            if kind not in kinds:
                raise ConfigError(f"params.{key}.type must be one of {', '.join(kinds)}, "
                                  f"got '{kind}'")
            try:
                converted[key] = kinds[kind](**spec)
            except TypeError as exc:
                raise ConfigError(f"params.{key}: {exc}") from exc
    return converted


def _run_dp(config: Config, run: RunDir, tracker: _Tracker) -> dict[str, float]:
    from gmrl.rl.envs import make_env

    env = make_env(config.env, check=False, **config.env_kwargs)
    try:
        result = _classic_function(config.algo)(env, **config.params)
    finally:
        env.close()
    run.log(0, {"dp/iterations": result.iterations, "dp/converged": bool(result.converged),
                "dp/mean_value": float(np.mean(result.values))})
    policy = result.policy
    tracker.evaluate(0, lambda obs: policy[np.asarray(obs, dtype=np.int64)])
    run.save_checkpoint(0, {"values": _tensor(result.values), "policy": _tensor(policy)},
                        algo=config.algo)
    return tracker.summary(iterations=float(result.iterations),
                           converged=float(result.converged))


def _run_mcts(config: Config, run: RunDir, tracker: _Tracker) -> dict[str, float]:
    from gmrl.rl.envs import make_env
    from gmrl.rl.mcts import MCTS, MCTSAgent

    env = make_env(config.env, check=False, **config.env_kwargs)
    params = {"seed": config.seed, **config.params}
    agent = MCTSAgent(MCTS(_search_model(env), **params))
    env.close()
    episodes = config.episodes or config.eval_episodes
    evaluation = config.model_copy(update={"eval_episodes": episodes})
    with run.progress() as progress:
        task = progress.add_task("mcts", total=episodes, info="")
        returns = []
        for i in range(episodes):  # planning only: each episode is both acting and evaluation
            returns.append(float(_evaluate_sequential(
                agent.act, evaluation.model_copy(update={"eval_episodes": 1}),
                EVAL_SEED + 100 * config.seed + i)[0]))
            run.log(i + 1, {"charts/episodic_return": returns[-1]})
            progress.update(task, completed=i + 1, info=f"return {returns[-1]:.1f}")
            if run.stop_requested:
                raise RunInterrupted(i + 1)
    mean = float(np.mean(returns))
    tracker.eval_steps, tracker.eval_returns = [len(returns)], [mean]
    run.log(len(returns), {"eval/mean_return": mean, "eval/std_return": float(np.std(returns))})
    return tracker.summary(episodes=float(len(returns)))


def _run_policy_gradient(config: Config, run: RunDir, tracker: _Tracker) -> dict[str, float]:
    agent = _pg_class(config.algo)(
        config.env, config.params, env_kwargs=config.env_kwargs, seed=config.seed,
        device=config.device,
    )
    by_episodes = config.total_steps is None
    resumed = run.load_latest_checkpoint()
    if resumed is not None:
        agent.load_state_dict(resumed[1]["agent"])
        tracker.restore(resumed[1]["tracker"])

    def save() -> None:
        run.save_checkpoint(agent.num_steps, {"agent": agent.state_dict(),
                                              "tracker": tracker.state()}, algo=config.algo)

    with run.progress() as progress:
        task = progress.add_task(config.algo, total=config.budget(), info="")

        def callback(agent: Any, metrics: dict[str, float]) -> bool | None:
            if "charts/episodic_return" in metrics:
                tracker.episode(agent.num_steps, metrics["charts/episodic_return"])
            run.log(agent.num_steps, metrics)
            done = agent.num_episodes if by_episodes else agent.num_steps
            info = f"return {metrics.get('charts/episodic_return', float('nan')):.1f}"
            progress.update(task, completed=min(done, config.budget()), info=info)
            finished = done >= config.budget()
            if done >= tracker.next_eval or finished:
                while tracker.next_eval <= done:
                    tracker.next_eval += config.eval_interval()
                tracker.evaluate(agent.num_steps,
                                 lambda obs: agent.act(obs, deterministic=True))
                save()
            if run.stop_requested:
                save()
                raise RunInterrupted(agent.num_steps)
            return None

        try:
            agent.learn(config.total_steps, episodes=config.episodes, callback=callback)
        finally:
            agent.close()
    if not tracker.eval_steps or tracker.eval_steps[-1] != agent.num_steps:
        tracker.evaluate(agent.num_steps, lambda obs: agent.act(obs, deterministic=True))
    agent.save(run.path / "agent.safetensors")
    return tracker.summary(env_steps=float(agent.num_steps), episodes=float(agent.num_episodes))


def _run_sb3(config: Config, run: RunDir, tracker: _Tracker) -> dict[str, float]:
    from gmrl.rl.sb3 import RunDirCallback, make_sb3_agent, save_sb3_weights

    model = make_sb3_agent(config.algo, config.env, config.params, env_kwargs=config.env_kwargs,
                           seed=config.seed, device=config.device)
    budget = int(config.total_steps or 0)
    resumed = run.load_latest_checkpoint()
    if resumed is not None:
        step, state = resumed
        model.policy.load_state_dict(state["policy"])
        model.num_timesteps = step
        tracker.restore(state["tracker"])

    def predict(obs: np.ndarray) -> np.ndarray:
        return model.predict(obs, deterministic=True)[0]

    def save(step: int) -> None:
        run.save_checkpoint(step, {"policy": dict(model.policy.state_dict()),
                                   "tracker": tracker.state()}, algo=config.algo)

    def on_step(step: int) -> bool | None:
        if step >= tracker.next_eval:
            while tracker.next_eval <= step:
                tracker.next_eval += config.eval_interval()
            tracker.evaluate(step, predict)
            save(step)
        if run.stop_requested:
            save(step)
            raise RunInterrupted(step)
        return None

    with run.progress() as progress:
        task = progress.add_task(config.algo, total=budget, completed=model.num_timesteps,
                                 info="")
        callback = RunDirCallback(run, progress=progress, task=task, on_step=on_step)
        remaining = budget - model.num_timesteps
        try:
            if remaining > 0:
                model.learn(remaining, callback=callback, reset_num_timesteps=resumed is None)
        finally:
            model.get_env().close()
    for step, value in zip(callback.episode_steps, callback.episode_returns, strict=True):
        tracker.episode(step, value)
    if not tracker.eval_steps or tracker.eval_steps[-1] != model.num_timesteps:
        tracker.evaluate(model.num_timesteps, predict)
    save_sb3_weights(model, run.path / "policy.safetensors", algo=config.algo, env_id=config.env,
                     params=config.params, env_kwargs=config.env_kwargs, seed=config.seed)
    return tracker.summary(env_steps=float(model.num_timesteps))


def _tensor(array: np.ndarray) -> Any:
    import torch

    return torch.as_tensor(np.ascontiguousarray(array))


# ----------------------------------------------------------------------------- plotting
def _plot(tracker: _Tracker, config: Config, run: RunDir) -> None:
    """Training returns (faint, smoothed) and evaluation returns against env steps."""
    from gmrl.core.plots import plt, save_figure

    fig, ax = plt.subplots(figsize=(7, 4))
    if tracker.train_returns:
        returns = np.asarray(tracker.train_returns)
        window = max(1, len(returns) // 50)
        smooth = np.convolve(returns, np.ones(window) / window, mode="valid")
        ax.plot(tracker.train_steps, returns, color="tab:blue", alpha=0.2, lw=0.8)
        ax.plot(tracker.train_steps[window - 1:], smooth, color="tab:blue",
                label="training episodes")
    if tracker.eval_returns:
        ax.plot(tracker.eval_steps, tracker.eval_returns, "o-", color="tab:orange",
                label=f"evaluation ({config.eval_episodes} episodes)")
    xlabel = "episodes" if config.algo == "mcts" else "env steps"
    ax.set(xlabel=xlabel, ylabel="return", title=f"{config.algo} on {config.env}")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    fig.tight_layout()
    save_figure(fig, run.plots_dir / "learning_curve.png", dpi=100)
