"""Train any gmrl or Stable-Baselines3 algorithm on any Gymnasium env, with periodic evaluation.

```
gmrl run configs/rl/cartpole.yaml                      # SB3 PPO on CartPole-v1
gmrl run configs/rl/frozenlake.yaml algo=sarsa         # tabular SARSA instead of Q-learning
gmrl run configs/rl/cartpole_reinforce.yaml seed=3
```

Algorithms: q_learning, sarsa (budget in episodes), value_iteration, policy_iteration (no env
interaction: solved from env.unwrapped.P), mcts (plans with a model of the env; no training,
`episodes` evaluation episodes are run), reinforce, actor_critic (gmrl), ppo, a2c, dqn, sac, td3
(Stable-Baselines3). `params` is validated by the model of the algorithm `algo` names
(`gmrl.rl.params`), and `prepare` checks the env id and the algorithm/space match, all before
the run directory exists.

Logged against env steps: training episode returns (`charts/episodic_return`), losses, SB3's own
logger values, and `eval/mean_return` / `eval/std_return` every `eval_every` steps (episodes for
tabular methods) over `eval_episodes` deterministic episodes. A learning curve goes to
`plots/learning_curve.png`.

Every family runs inside `gmrl.core.loop.TrainingLoop`: checkpoints at each evaluation (or every
`checkpoint_every`), Ctrl-C honoured at the next consistent point (a tabular episode, an MCTS env
step, a policy-gradient iteration, an SB3 off-policy rollout of `train_freq` steps; an SB3
on-policy run stops within one env step and checkpoints its current rollout's start), and
exact resume: a checkpoint holds the complete learner state (SB3: networks,
optimizers, replay buffer, counters, logger, exploration state; the training envs mid-episode,
rebuilt by replaying the episode's actions) plus every RNG, so a resumed run writes the same
metrics.csv and summary.json as an uninterrupted one. The trained agent is saved as
`agent.safetensors` (a gmrl artifact) for the policy-gradient and SB3 families.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, Field, model_validator

from gmrl.core.config import RecipeConfig
from gmrl.core.loop import TrainingLoop
from gmrl.core.rundir import RunDir
from gmrl.core.seeding import derive_seed, seed_everything
from gmrl.rl.params import DP, PG, SB3, TABULAR, params_dict, params_union, schedule

SUMMARY = "train any RL algorithm (tabular, DP, MCTS, REINFORCE, A2C, SB3) on a Gymnasium env"

Algo = Literal[
    "q_learning", "sarsa", "value_iteration", "policy_iteration", "mcts",
    "reinforce", "actor_critic", "ppo", "a2c", "dqn", "sac", "td3",
]
if TYPE_CHECKING:
    from gmrl.rl.sb3.factory import ReplayBuffers

    AlgoParams = BaseModel
else:
    AlgoParams = params_union()
OFF_POLICY = ("dqn", "sac", "td3")


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
    checkpoint_every: int | None = Field(
        None, ge=1, description="checkpoint every N steps (episodes for tabular/mcts); "
        "default: at each evaluation"
    )
    params: AlgoParams = Field(description="the algorithm's hyper-parameters (gmrl.rl.params)")
    target_return: float | None = Field(
        None, allow_inf_nan=False,
        description="evaluation return that counts as solved: the summary reports the first "
        "env step reaching it (steps_to_target; NaN if never)",
    )

    @model_validator(mode="before")
    @classmethod
    def _tag_params(cls, data: Any) -> Any:
        """`params` is validated by the model of the algorithm `algo` names."""
        if isinstance(data, dict) and isinstance(data.get("algo"), str):
            params = data.get("params")
            params = {} if params is None else params
            if isinstance(params, dict):
                data = {**data, "params": {**params, "algo": data["algo"]}}
        return data

    @model_validator(mode="after")
    def _budget(self) -> "Config":
        if self.algo in TABULAR and self.episodes is None:
            raise ValueError(f"{self.algo} counts its budget in episodes: set 'episodes'")
        if self.algo in SB3 and self.total_steps is None:
            raise ValueError(f"{self.algo} counts its budget in env steps: set 'total_steps'")
        if self.algo in SB3 and self.episodes is not None:
            raise ValueError(f"{self.algo} counts its budget in env steps: drop 'episodes'")
        if self.algo in PG and self.total_steps is None and self.episodes is None:
            raise ValueError(f"{self.algo} needs a budget: set 'total_steps' or 'episodes'")
        if self.eval_every is not None and self.budget() and self.eval_every > self.budget():
            raise ValueError(
                f"eval_every ({self.eval_every}) exceeds the budget ({self.budget()}): "
                "lower eval_every (the run always evaluates at its end)"
            )
        starts = getattr(self.params, "learning_starts", None)
        if self.algo in OFF_POLICY and starts is not None and starts >= (self.total_steps or 0):
            raise ValueError(
                f"total_steps ({self.total_steps}) must exceed params.learning_starts ({starts}),"
                f" or {self.algo} never trains"
            )
        return self

    def budget(self) -> int:
        """The budget in the unit that `eval_every` counts (episodes for tabular, else steps)."""
        if self.algo in TABULAR or (self.algo in PG and self.total_steps is None):
            return int(self.episodes or 0)
        return int(self.total_steps or self.episodes or 0)

    def eval_interval(self) -> int:
        return self.eval_every or max(self.budget() // 10, 1)

    def checkpoint_interval(self) -> int:
        return self.checkpoint_every or self.eval_interval()

    def sb3_params(self) -> BaseModel:
        """The keyword arguments handed to the SB3 class (recipes built on this one add theirs)."""
        return self.params


def quick_overrides(config: Config) -> list[str]:
    """`gmrl run ... --quick`: this run at a budget that ends in about a minute on a CPU (at most
    5,000 env steps, or 500 episodes for tabular methods, 2 evaluation episodes): to try a config
    or an env, not to measure."""
    quick = [f"eval_episodes={min(config.eval_episodes, 2)}"]
    if config.algo in DP:
        return quick
    if config.algo in TABULAR or config.algo == "mcts" or config.total_steps is None:
        cap = 2 if config.algo == "mcts" else 500
        episodes = min(config.episodes or config.eval_episodes, cap)
        return [*quick, f"episodes={episodes}", f"eval_every={max(episodes // 2, 1)}"]
    steps = min(config.total_steps, 5_000)
    quick += [f"total_steps={steps}", f"eval_every={max(steps // 2, 1)}"]
    starts = getattr(config.params, "learning_starts", None)
    if isinstance(starts, int) and starts >= steps // 5:
        quick.append(f"params.learning_starts={steps // 5}")
    return quick


def replay_buffers() -> "ReplayBuffers":
    """The replay buffers an SB3 config may name as `params.replay_buffer_class` (the RL layer
    knows none of the combinations' buffers itself): `synthetic` is
    `gmrl.synthetic.SyntheticReplayBuffer`, whose `replay_buffer_kwargs` are a
    `SyntheticConfig`."""
    from gmrl.synthetic import SyntheticReplayBuffer

    return {"synthetic": SyntheticReplayBuffer}


# ----------------------------------------------------------------------------- validation
def prepare(config: Config) -> None:
    """Check the env id, the algorithm/space match and the SB3 values that name things
    (activation_fn, optimizer_class, action_noise) before any work starts."""
    from gmrl.rl.envs import check_algorithm_supports, make_env

    env = make_env(config.env, **config.env_kwargs)
    try:
        check_algorithm_supports(config.algo, env)  # mcts: also that gmrl has a model of env
        if config.algo in SB3:
            from gmrl.rl.sb3.factory import sb3_kwargs

            sb3_kwargs(config.algo, config.sb3_params(), env.action_space, env.observation_space,
                       replay_buffers=replay_buffers())
    finally:
        env.close()


# ----------------------------------------------------------------------------- bookkeeping
class _Tracker:
    """Evaluation history, plotting data and the metrics shared by every algorithm's loop."""

    def __init__(self, config: Config, run: RunDir) -> None:
        self.config, self.run = config, run
        self.eval_steps: list[int] = []
        self.eval_returns: list[float] = []
        self.train_steps: list[int] = []
        self.train_returns: list[float] = []
        self.next_eval = config.eval_interval()
        self.checkpointed = 0  # progress (steps or episodes) at the last scheduled checkpoint
        self.eval_seed = derive_seed(config.seed, "eval_env")

    def episode(self, step: int, episode_return: float) -> None:
        self.train_steps.append(step)
        self.train_returns.append(float(episode_return))

    def checkpoint_due(self, done: int, final: bool) -> bool:
        """A checkpoint is due at the end, and once `done` passes a multiple of the interval."""
        every = self.config.checkpoint_interval()
        if final or done // every > self.checkpointed // every:
            self.checkpointed = done
            return True
        return False

    def eval_due(self, done: int) -> bool:
        """Whether `done` (steps or episodes) reached the next evaluation; moves it on if so."""
        if done < self.next_eval:
            return False
        while self.next_eval <= done:
            self.next_eval += self.config.eval_interval()
        return True

    def evaluate(self, step: int, act: Callable[[np.ndarray], Any]) -> float:
        """Run `eval_episodes` deterministic episodes and log eval/mean_return at `step`."""
        from gmrl.rl.envs import env_factory
        from gmrl.rl.rollout import EVAL_STEP_CAP, PolicyFunction, evaluate_agent

        episodes = self.config.eval_episodes
        returns = evaluate_agent(
            PolicyFunction(act), env_factory(self.config.env, **(self.config.env_kwargs or {})),
            episodes=episodes, max_steps=EVAL_STEP_CAP,
            reset_seeds=range(self.eval_seed, self.eval_seed + episodes))
        return self.record(step, returns)

    def record(self, step: int, returns: np.ndarray) -> float:
        mean = float(np.mean(returns))
        self.eval_steps.append(step)
        self.eval_returns.append(mean)
        self.run.log(step, {"eval/mean_return": mean, "eval/std_return": float(np.std(returns))})
        return mean

    def state(self) -> dict[str, Any]:
        return {"eval_steps": list(self.eval_steps), "eval_returns": list(self.eval_returns),
                "train_steps": list(self.train_steps), "train_returns": list(self.train_returns),
                "next_eval": self.next_eval, "checkpointed": self.checkpointed}

    def restore(self, state: dict[str, Any]) -> None:
        self.eval_steps = [int(s) for s in state["eval_steps"]]
        self.eval_returns = [float(r) for r in state["eval_returns"]]
        self.train_steps = [int(s) for s in state["train_steps"]]
        self.train_returns = [float(r) for r in state["train_returns"]]
        self.next_eval = int(state["next_eval"])
        self.checkpointed = int(state["checkpointed"])

    def summary(self, **extra: float) -> dict[str, float]:
        final = self.eval_returns[-1] if self.eval_returns else float("nan")
        summary = {"final_mean_return": final,
                   "best_mean_return": max(self.eval_returns, default=float("nan")), **extra}
        target = self.config.target_return
        if target is not None:
            reached = [s for s, r in zip(self.eval_steps, self.eval_returns, strict=True)
                       if r >= target]
            summary["steps_to_target"] = float(reached[0]) if reached else float("nan")
        return summary


def _loop(config: Config, run: RunDir, tracker: _Tracker, total: int,
          state: Callable[[], dict[str, Any]], restore: Callable[[dict[str, Any]], None],
          on_env_error: Callable[[], int] | None = None) -> TrainingLoop:
    """The run's TrainingLoop; its checkpoints hold the learner's state and the tracker's."""
    def full_state() -> dict[str, Any]:
        return {"learner": state(), "tracker": tracker.state()}

    def full_restore(saved: dict[str, Any]) -> None:
        restore(saved["learner"])
        tracker.restore(saved["tracker"])

    return TrainingLoop(run, total=total, description=config.algo, state=full_state,
                        restore=full_restore, checkpoint_every=config.checkpoint_interval(),
                        metadata={"algo": config.algo}, on_env_error=on_env_error)


def run(config: Config, run: RunDir) -> dict[str, float]:
    """Train `config.algo` on `config.env`, evaluating periodically; returns the summary."""
    from gmrl.core.device import resolve_device, torch_threads

    seed_everything(config.seed)
    tracker = _Tracker(config, run)
    runner = {**dict.fromkeys(TABULAR, _run_tabular), **dict.fromkeys(DP, _run_dp),
              "mcts": _run_mcts, **dict.fromkeys(PG, _run_policy_gradient),
              **dict.fromkeys(SB3, _run_sb3)}[config.algo]
    # These networks are tiny: extra intra-op threads only spin (rl-zoo does the same).
    with torch_threads(1 if resolve_device(config.device).type == "cpu" else None):
        summary = runner(config, run, tracker)
    _plot(tracker, config, run)
    run.flush()
    return summary


def _greedy(table: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    policy = np.asarray(table)
    return lambda obs: policy[np.asarray(obs, dtype=np.int64)]


# ----------------------------------------------------------------------------- families
def _run_tabular(config: Config, run: RunDir, tracker: _Tracker) -> dict[str, float]:
    """One loop step per episode; checkpoints between episodes (logged against env steps)."""
    from gmrl.rl.envs import make_env
    from gmrl.rl.tabular import TDLearner

    params = params_dict(config.params)
    for key in ("alpha", "epsilon"):
        params[key] = schedule(getattr(config.params, key))
    env = make_env(config.env, check=False, **config.env_kwargs)
    learner = TDLearner(env, on_policy=config.algo == "sarsa", episodes=int(config.episodes or 0),
                        seed=config.seed, **params)
    steps = 0

    def state() -> dict[str, Any]:
        return {"td": learner.state_dict(), "steps": steps}

    def restore(saved: dict[str, Any]) -> None:
        nonlocal steps
        learner.load_state_dict(saved["td"])
        steps = int(saved["steps"])

    loop = _loop(config, run, tracker, learner.episodes, state, restore)
    loop.resume()
    try:
        with loop:
            while not learner.done:
                stats = learner.run_episode()
                steps += stats.length
                tracker.episode(steps, stats.episode_return)
                loop.log(steps, {"charts/episodic_return": stats.episode_return,
                                 "charts/episodic_length": stats.length,
                                 "charts/epsilon": stats.epsilon, "charts/alpha": stats.alpha})
                done = learner.episode
                if tracker.eval_due(done) or learner.done:
                    tracker.evaluate(steps, _greedy(learner.q.argmax(axis=1)))
                _end(loop, tracker, steps, done, info=f"return {stats.episode_return:.2f}",
                     final=learner.done)
    finally:
        env.close()
    return tracker.summary(env_steps=float(steps), episodes=float(learner.episode))


def _end(loop: TrainingLoop, tracker: _Tracker, step: int, done: int, *, info: str | None,
         final: bool = False) -> None:
    """End a loop step whose progress (`done`: episodes or steps) and logged step (`step`: env
    steps) may differ in unit: move the bar, checkpoint when due, honour Ctrl-C."""
    loop.update_progress(done, info)
    loop.end_step(step, checkpoint=tracker.checkpoint_due(done, final))


def _run_dp(config: Config, run: RunDir, tracker: _Tracker) -> dict[str, float]:
    """Solved in one step (milliseconds); its checkpoint holds the values and the policy."""
    import torch

    from gmrl.rl import dynamic_programming
    from gmrl.rl.envs import make_env

    result: dict[str, Any] = {}

    def restore(saved: dict[str, Any]) -> None:
        result.update(saved)

    loop = _loop(config, run, tracker, 1, lambda: dict(result), restore)
    if loop.resume() == 0 and not result:
        env = make_env(config.env, check=False, **config.env_kwargs)
        try:
            solved = getattr(dynamic_programming, config.algo)(env, **params_dict(config.params))
        finally:
            env.close()
        loop.log(0, {"dp/iterations": solved.iterations, "dp/converged": bool(solved.converged),
                     "dp/mean_value": float(np.mean(solved.values))})
        tracker.evaluate(0, _greedy(solved.policy))
        result.update({"values": torch.from_numpy(solved.values.copy()),
                       "policy": torch.from_numpy(solved.policy.copy()),
                       "iterations": int(solved.iterations),
                       "converged": bool(solved.converged)})
        with loop:
            loop.end_step(0, checkpoint=True)
    return tracker.summary(iterations=float(result["iterations"]),
                           converged=float(result["converged"]))


def _run_mcts(config: Config, run: RunDir, tracker: _Tracker) -> dict[str, float]:
    """Planning only: each episode both acts and evaluates. Loop steps are episodes; Ctrl-C
    stops within one env step (the episode so far is saved and replayed on resume)."""
    from gmrl.rl.env_state import EpisodeRecorder, generator_from_state, generator_state
    from gmrl.rl.envs import make_env
    from gmrl.rl.mcts import MCTS, MCTSAgent
    from gmrl.rl.rollout import EVAL_STEP_CAP
    from gmrl.rl.search_model import search_model_for

    env = EpisodeRecorder(make_env(config.env, check=False, **config.env_kwargs))
    planner = MCTS(search_model_for(env), seed=derive_seed(config.seed, "mcts_planner"),
                   **params_dict(config.params))
    agent = MCTSAgent(planner)
    episodes = config.episodes or config.eval_episodes
    seed = derive_seed(config.seed, "mcts_episodes")
    returns: list[float] = []
    episode: dict[str, Any] | None = None  # the episode in progress: {"return", "steps"}

    def state() -> dict[str, Any]:
        current = None if episode is None else {**episode, "env": env.state()}
        return {"returns": list(returns), "current": current,
                "planner_rng": generator_state(planner.rng)}

    def restore(saved: dict[str, Any]) -> None:
        nonlocal episode
        returns[:] = [float(r) for r in saved["returns"]]
        episode = saved["current"]
        planner.rng = generator_from_state(saved["planner_rng"])

    loop = _loop(config, run, tracker, episodes, state, restore)
    loop.resume()
    try:
        with loop:
            while len(returns) < episodes:
                i = len(returns)
                if episode is None:
                    obs, _ = env.reset(seed=seed + i)
                    episode = {"return": 0.0, "steps": 0}
                else:  # resumed mid-episode: replay its actions
                    obs = env.restore(episode.pop("env"))
                done = False
                while not done and episode["steps"] < EVAL_STEP_CAP:
                    obs, reward, terminated, truncated, _ = env.step(agent.act(obs))
                    episode["return"] += float(reward)
                    episode["steps"] += 1
                    done = terminated or truncated
                    if not done:
                        loop.check_stop(i)
                total = float(episode["return"])
                episode = None
                returns.append(total)
                loop.log(i + 1, {"charts/episodic_return": total})
                if len(returns) == episodes:
                    tracker.record(episodes, np.asarray(returns))
                _end(loop, tracker, i + 1, i + 1, info=f"return {total:.1f}",
                     final=len(returns) == episodes)
    finally:
        env.close()
    return tracker.summary(episodes=float(len(returns)))


def _run_policy_gradient(config: Config, run: RunDir, tracker: _Tracker) -> dict[str, float]:
    """One loop step per training iteration (a batch of episodes or an n-step rollout)."""
    from gmrl.rl.policy_gradient.actor_critic import ActorCritic
    from gmrl.rl.policy_gradient.reinforce import Reinforce

    agent_class = {"reinforce": Reinforce, "actor_critic": ActorCritic}[config.algo]
    agent = agent_class(config.env, params_dict(config.params), env_kwargs=config.env_kwargs,
                        seed=config.seed, device=config.device)
    by_episodes = config.total_steps is None
    budget = config.budget()
    loop = _loop(config, run, tracker, budget, agent.state_dict, agent.load_state_dict)
    loop.resume()

    def act(obs: np.ndarray) -> np.ndarray:
        return agent.act(obs, deterministic=True)

    def callback(agent: Any, metrics: dict[str, float]) -> None:
        if "charts/episodic_return" in metrics:
            tracker.episode(agent.num_steps, metrics["charts/episodic_return"])
        loop.log(agent.num_steps, metrics)
        done = agent.num_episodes if by_episodes else agent.num_steps
        if tracker.eval_due(done) or done >= budget:
            tracker.evaluate(agent.num_steps, act)
        info = f"return {metrics.get('charts/episodic_return', float('nan')):.1f}"
        _end(loop, tracker, agent.num_steps, done, info=info, final=done >= budget)

    try:
        with loop:
            agent.learn(config.total_steps, episodes=config.episodes, callback=callback)
    finally:
        agent.close()
    agent.save(run.path / "agent.safetensors")
    return tracker.summary(env_steps=float(agent.num_steps), episodes=float(agent.num_episodes))


def _run_sb3(config: Config, run: RunDir, tracker: _Tracker) -> dict[str, float]:
    """Evaluations at any env step (SB3 callback); checkpoints and Ctrl-C between rollouts,
    where the agent's state is complete (see `gmrl.rl.sb3.state`)."""
    from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

    from gmrl.core.seeding import rng_state, set_rng_state
    from gmrl.rl.sb3 import (
        RunDirCallback,
        load_sb3_state,
        make_sb3_agent,
        save_sb3_agent,
        sb3_state,
    )

    model = make_sb3_agent(config.algo, config.env, config.sb3_params(),
                           env_kwargs=config.env_kwargs, seed=config.seed, device=config.device,
                           replay_buffers=replay_buffers())
    budget = int(config.total_steps or 0)
    resumed: dict[str, Any] = {}
    # On-policy rollouts can be long (PPO: 2048 steps per env), and their half-filled buffer is
    # not saved; so each rollout's start is kept in memory (cheap: no replay buffer), and a
    # Ctrl-C mid-rollout stops at once and checkpoints that start (the rollout is redone).
    rollout_start: dict[str, Any] = {}
    on_policy = isinstance(model, OnPolicyAlgorithm)

    def restore(saved: dict[str, Any]) -> None:
        load_sb3_state(model, saved)
        resumed.update(saved)

    def learner_state() -> dict[str, Any]:
        return rollout_start["agent"] if rollout_start.get("rewind") else sb3_state(model)

    def rewind() -> int:
        """Back to the current rollout's start (on-policy), the state a checkpoint can hold."""
        rollout_start["rewind"] = True
        tracker.restore(rollout_start["tracker"])
        set_rng_state(rollout_start["rng"])
        return int(rollout_start["step"])

    def on_env_error() -> int:
        """An env failed mid-rollout: save the rollout's start (on-policy) or the agent now."""
        return rewind() if on_policy and rollout_start else int(model.num_timesteps)

    loop = _loop(config, run, tracker, budget, learner_state, restore, on_env_error)
    loop.resume()

    def predict(obs: np.ndarray) -> np.ndarray:
        return model.predict(obs, deterministic=True)[0]

    pop_buffer_metrics = getattr(getattr(model, "replay_buffer", None), "pop_metrics", None)

    def log_buffer_metrics(step: int) -> None:
        """A buffer's own figures (a SyntheticReplayBuffer's refits): SB3 stores a transition
        after the step's callback, so they are logged at the next step, or at the end."""
        if pop_buffer_metrics is not None:
            figures = pop_buffer_metrics()
            if figures:
                loop.log(step, figures)

    def on_step(step: int) -> None:
        log_buffer_metrics(step)
        if tracker.eval_due(step):
            tracker.evaluate(step, predict)
        if on_policy and loop.stop_requested and rollout_start:
            loop.check_stop(rewind())  # saves the rollout's start, then stops

    def on_rollout_start(step: int) -> None:
        _end(loop, tracker, step, step, info=None)
        if on_policy:
            rollout_start.update(step=step, agent=sb3_state(model), tracker=tracker.state(),
                                 rng=rng_state())

    callback = RunDirCallback(
        run, on_step=on_step, on_episode=tracker.episode, on_rollout_start=on_rollout_start,
        progress_hook=loop.update_progress, resume_state=resumed or None,
    )
    try:
        with loop:
            remaining = budget - model.num_timesteps
            if remaining > 0:
                callback.learn(model, remaining)
            log_buffer_metrics(model.num_timesteps)
            if not tracker.eval_steps or tracker.eval_steps[-1] != model.num_timesteps:
                tracker.evaluate(model.num_timesteps, predict)
            _end(loop, tracker, model.num_timesteps, model.num_timesteps, info=None, final=True)
    finally:
        env = model.get_env()
        if env is not None:
            env.close()
    save_sb3_agent(model, run.path / "agent.safetensors", algo=config.algo, env_id=config.env,
                   params=config.sb3_params(), env_kwargs=config.env_kwargs, seed=config.seed)
    buffer_summary = getattr(getattr(model, "replay_buffer", None), "summary", None)
    extra = buffer_summary() if callable(buffer_summary) else {}
    return tracker.summary(env_steps=float(model.num_timesteps), **extra)


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
