"""Recipe `worldmodel`: a model-based agent (ensemble world model + MPC or dream training).

Every `eval_every` real env steps the loop logs the real env steps so far, the model's held-out
error and the mean return of `eval_episodes` evaluation episodes, checkpoints (safetensors) and
redraws the learning curve (real env steps vs return) in `plots/learning_curve.png`.

    gmrl run configs/worldmodel/cartpole.yaml
    gmrl run configs/worldmodel/pendulum.yaml total_steps=1000
    gmrl run configs/worldmodel/cartpole.yaml env.id=my_pkg.envs:MyEnv model.reward=learned
"""

from typing import Any, Literal

from pydantic import Field

from gmrl.core.config import RecipeConfig, StrictModel
from gmrl.core.device import resolve_device, torch_threads
from gmrl.core.errors import ConfigError, EnvError, RunInterrupted
from gmrl.core.rundir import RunDir
from gmrl.core.seeding import rng_state, seed_everything, set_rng_state

SUMMARY = "world-model agent: ensemble dynamics + CEM planning or SB3 in the dream (PETS/MBPO)"


class EnvSection(StrictModel):
    id: str = Field("CartPole-v1", description="Gymnasium id, or your own env as 'module:Class'")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="passed to the env")
    max_episode_steps: int | None = Field(None, ge=1, description="time limit for own classes")


class ModelSection(StrictModel):
    ensemble_size: int = Field(5, ge=1)
    hidden: int = Field(200, ge=1)
    layers: int = Field(3, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(5e-5, ge=0)
    reward: str = Field(
        "known",
        description="known (closed form, PETS convention), learned, shaped (a planning proxy, "
        "see known_fns), or 'module:function' taking (obs, action, next_obs)",
    )
    termination: str = Field("known", description="known, learned, or 'module:function'")
    max_epochs: int = Field(50, ge=1, description="epochs per refit (early stopping may cut)")
    patience: int = Field(5, ge=1)
    batch_size: int = Field(64, ge=1)


class PlannerSection(StrictModel):
    kind: Literal["cem", "mcts"] = Field("cem", description="cem, or mcts (Discrete actions)")
    horizon: int = Field(15, ge=1)
    population: int = Field(100, ge=1)
    elites: int = Field(10, ge=1)
    iterations: int = Field(2, ge=1, description="CEM iterations (1 = random shooting)")
    alpha: float = Field(0.1, ge=0, lt=1, description="momentum of the CEM distribution")
    particles: int | None = Field(
        1, ge=1, description="particles per candidate (None: one per member)"
    )
    mcts: dict[str, Any] = Field(
        default_factory=lambda: {"n_simulations": 32, "max_depth": 15, "rollouts_per_leaf": 2},
        description="kind=mcts: keyword arguments of gmrl.rl.mcts.MCTS",
    )


class DreamSection(StrictModel):
    algo: Literal["sac", "td3", "ppo", "a2c", "dqn"] = "sac"
    envs: int = Field(64, ge=1, description="parallel imagined rollouts")
    horizon: int = Field(5, ge=1, description="imagined steps per rollout (MBPO: short)")
    steps: int = Field(2000, ge=1, description="imagined steps of SB3 training per refit")
    uncertainty_threshold: float | None = Field(None, gt=0)
    kwargs: dict[str, Any] = Field(default_factory=dict, description="SB3 algorithm kwargs")


class Config(RecipeConfig):
    recipe: str = "worldmodel"
    env: EnvSection = Field(default_factory=EnvSection)
    model: ModelSection = Field(default_factory=ModelSection)
    mode: Literal["mpc", "dream"] = Field(
        "mpc", description="plan with CEM, or train SB3 in the dream"
    )
    planner: PlannerSection = Field(default_factory=PlannerSection)
    dream: DreamSection = Field(default_factory=DreamSection)
    initial_steps: int = Field(100, ge=1, description="random real steps before the first fit")
    fit_every: int = Field(250, ge=1, description="real steps between model refits")
    early_fit_every: int | None = Field(
        None, ge=1, description="refit interval while real steps < early_fit_until (None: off)"
    )
    early_fit_until: int = Field(0, ge=0, description="end of the early, frequent-refit phase")
    total_steps: int = Field(2000, ge=1, description="real env steps in all")
    eval_every: int = Field(250, ge=1, description="real steps between evaluations")
    eval_episodes: int = Field(10, ge=1)
    target_return: float | None = Field(None, description="stop once the eval mean reaches it")


# ---------------------------------------------------------------------- building blocks
def _function(spec: str, known: dict[str, Any], env_id: str, what: str) -> Any:
    """Resolve a reward/termination spec to a callable (None means: learn it)."""
    from gmrl.core.imports import import_object

    if spec == "learned":
        return None
    if spec in ("known", "shaped"):
        if env_id not in known:
            raise ConfigError(
                f"no {spec} {what} function for env '{env_id}' (have: {', '.join(known)}): set "
                f"model.{what}=learned or give 'module:function'"
            )
        return known[env_id]
    if ":" in spec:
        return import_object(spec, f"model.{what}")
    raise ConfigError(f"model.{what}='{spec}': use known, learned, shaped or 'module:function'")


def make_env_fn(config: Config) -> Any:
    from gmrl.worldmodel.envs import env_factory

    return env_factory(config.env.id, config.env.kwargs, config.env.max_episode_steps)


def prepare(config: Config) -> None:
    """Check the env and the model's functions before the run directory is created."""
    from gmrl.worldmodel import known_fns
    from gmrl.worldmodel.envs import check_world_model_env

    try:
        env = make_env_fn(config)()
    except (EnvError, ConfigError):
        raise
    except Exception as exc:  # a user's env that fails to build
        raise EnvError(
            f"env '{config.env.id}' failed to build: {str(exc).splitlines()[0]}"
        ) from exc
    check_world_model_env(env, config.env.id)
    if config.model.termination == "shaped":
        raise ConfigError(
            "model.termination cannot be 'shaped': use known, learned or module:function"
        )
    rewards = (
        known_fns.SHAPED_REWARDS if config.model.reward == "shaped" else known_fns.KNOWN_REWARDS
    )
    _function(config.model.reward, rewards, config.env.id, "reward")
    _function(config.model.termination, known_fns.KNOWN_TERMINATIONS, config.env.id, "termination")
    if config.planner.elites > config.planner.population:
        raise ConfigError("planner.elites must be <= planner.population")
    from gymnasium import spaces

    if config.planner.kind == "mcts" and not isinstance(env.action_space, spaces.Discrete):
        raise ConfigError("planner.kind=mcts needs Discrete actions: use planner.kind=cem")
    if config.mode == "dream":
        discrete = isinstance(env.action_space, spaces.Discrete)
        if discrete and config.dream.algo in ("sac", "td3"):
            raise ConfigError(f"dream.algo={config.dream.algo} needs Box actions: use dqn or ppo")
        if not discrete and config.dream.algo == "dqn":
            raise ConfigError("dream.algo=dqn needs Discrete actions: use sac, td3 or ppo")
    env.close()


def _planner_kwargs(planner: PlannerSection) -> dict[str, Any]:
    if planner.kind == "mcts":
        return dict(planner.mcts)
    return planner.model_dump(exclude={"kind", "mcts"})


def build_agent(config: Config) -> Any:
    """The `ModelBasedAgent` a config describes (used by `run` and by the benchmark)."""
    import stable_baselines3 as sb3

    from gmrl.worldmodel import known_fns
    from gmrl.worldmodel.agent import ModelBasedAgent
    from gmrl.worldmodel.ensemble import GaussianEnsemble

    make_env = make_env_fn(config)
    probe = make_env()
    m = config.model
    rewards = known_fns.SHAPED_REWARDS if m.reward == "shaped" else known_fns.KNOWN_REWARDS
    model = GaussianEnsemble.from_spaces(
        probe.observation_space,
        probe.action_space,
        ensemble_size=m.ensemble_size,
        hidden=m.hidden,
        layers=m.layers,
        lr=m.lr,
        weight_decay=m.weight_decay,
        reward_fn=_function(m.reward, rewards, config.env.id, "reward"),
        termination_fn=_function(
            m.termination, known_fns.KNOWN_TERMINATIONS, config.env.id, "termination"
        ),
    ).to(resolve_device(config.device))
    probe.close()
    algo = {"sac": sb3.SAC, "td3": sb3.TD3, "ppo": sb3.PPO, "a2c": sb3.A2C, "dqn": sb3.DQN}
    return ModelBasedAgent(
        make_env,
        model,
        mode=config.mode,
        initial_steps=config.initial_steps,
        fit_every=config.fit_every,
        early_fit_every=config.early_fit_every,
        early_fit_until=config.early_fit_until,
        fit_kwargs={"max_epochs": m.max_epochs, "patience": m.patience, "batch_size": m.batch_size},
        planner=config.planner.kind,
        planner_kwargs=_planner_kwargs(config.planner),
        sb3_algo=algo[config.dream.algo] if config.mode == "dream" else None,
        sb3_kwargs={"device": "cpu", **config.dream.kwargs},
        dream_envs=config.dream.envs,
        dream_horizon=config.dream.horizon,
        dream_steps=config.dream.steps,
        uncertainty_threshold=config.dream.uncertainty_threshold,
        seed=config.seed,
    )


def plot_learning_curve(
    run: RunDir, steps: list[int], returns: list[float], config: Config
) -> None:
    from gmrl.core.plots import plt, save_figure

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(steps, returns, marker="o", label=f"world model ({config.mode})")
    if config.target_return is not None:
        ax.axhline(config.target_return, color="grey", linestyle="--", label="target")
    ax.set_xlabel("real env steps")
    ax.set_ylabel(f"mean return ({config.eval_episodes} episodes)")
    ax.set_title(f"{config.env.id}: world-model agent")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, run.plots_dir / "learning_curve.png", dpi=100)


# ---------------------------------------------------------------------- the run
def run(config: Config, run: RunDir) -> dict[str, float]:
    # The model's ops are small and many: on a CPU, extra intra-op threads only add overhead
    # (measured: >6 min instead of 30 s for the quickstart on a loaded 2-core machine).
    with torch_threads(1):
        return _run(config, run)


def _run(config: Config, run: RunDir) -> dict[str, float]:
    seed_everything(config.seed)
    agent = build_agent(config)
    curve: dict[str, list[float]] = {"steps": [], "returns": []}
    resumed = run.load_latest_checkpoint()
    if resumed is not None:
        _, state = resumed
        agent.load_state_dict(state["agent"])
        curve = {k: [float(v) for v in state["curve"][k]] for k in ("steps", "returns")}
        set_rng_state(state["rng"])
    reached = next(
        (
            s
            for s, r in zip(curve["steps"], curve["returns"], strict=True)
            if config.target_return is not None and r >= config.target_return
        ),
        None,
    )
    with run.progress() as progress:
        task = progress.add_task(
            f"{config.env.id} ({config.mode})",
            total=config.total_steps,
            completed=agent.real_steps,
            info="",
        )
        while agent.real_steps < config.total_steps and reached is None:
            chunk = min(config.eval_every, config.total_steps - agent.real_steps)
            agent.train(chunk)
            mean_return = agent.evaluate(config.eval_episodes, seed=10_000 + config.seed * 100)
            curve["steps"].append(agent.real_steps)
            curve["returns"].append(mean_return)
            metrics = {
                "charts/real_env_steps": agent.real_steps,
                "eval/mean_return": mean_return,
                "model/val_next_obs_mse": agent.last_fit.get("val_next_obs_mse", float("nan")),
                "model/holdout_mse": agent.last_fit.get("holdout_mse", float("nan")),
                "model/fit_epochs": agent.last_fit.get("epochs", float("nan")),
                "time/fit_s": agent.timings["fit_s"],
                "time/act_s": agent.timings["act_s"],
            }
            if agent.episode_returns:
                metrics["charts/episodic_return"] = agent.episode_returns[-1]
            run.log(agent.real_steps, metrics)
            progress.update(
                task,
                completed=agent.real_steps,
                info=f"return {mean_return:.1f}  model mse {metrics['model/val_next_obs_mse']:.2e}",
            )
            if config.target_return is not None and mean_return >= config.target_return:
                reached = agent.real_steps
            run.save_checkpoint(
                agent.real_steps, {"agent": agent.state_dict(), "curve": curve, "rng": rng_state()}
            )
            plot_learning_curve(run, [int(s) for s in curve["steps"]], curve["returns"], config)
            if run.stop_requested:
                raise RunInterrupted(agent.real_steps)
    summary = {
        "real_env_steps": float(agent.real_steps),
        "final_eval_return": curve["returns"][-1] if curve["returns"] else float("nan"),
        "best_eval_return": max(curve["returns"]) if curve["returns"] else float("nan"),
        "model_val_next_obs_mse": float(agent.last_fit.get("val_next_obs_mse", float("nan"))),
    }
    if config.target_return is not None:
        summary["steps_to_target"] = float(reached) if reached is not None else float("nan")
    return summary
