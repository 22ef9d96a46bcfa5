"""Recipe `worldmodel`: a model-based agent (ensemble world model + MPC or dream training).

Every `eval_every` real env steps the loop logs the real env steps so far, the model's held-out
error and the mean return of `eval_episodes` evaluation episodes, checkpoints (safetensors) and
redraws the learning curve (real env steps vs return) in `plots/learning_curve.png`. The loop is
`gmrl.core.loop.TrainingLoop`, stepped every `STEP_CHUNK` real steps: Ctrl-C stops at the next
chunk with a checkpoint, and `--resume` continues exactly (the agent's `state_dict` replays the
current real episode).

    gmrl run configs/worldmodel/default.yaml env.id=Acrobot-v1     # any task, all learned
    gmrl run configs/worldmodel/cartpole.yaml
    gmrl run configs/worldmodel/pendulum.yaml total_steps=1000
    gmrl run configs/worldmodel/cartpole.yaml env.id=my_pkg.envs:MyEnv model.reward=learned
"""

from typing import Any

from pydantic import Field, model_validator

from gmrl.core.config import RecipeConfig, StrictModel
from gmrl.core.device import resolve_device, torch_threads
from gmrl.core.errors import ConfigError, EnvError
from gmrl.core.rundir import RunDir
from gmrl.core.seeding import seed_everything
from gmrl.worldmodel.agent import AgentConfig
from gmrl.worldmodel.build import ModelSection, model_functions

SUMMARY = "world-model agent: ensemble dynamics + CEM planning or SB3 in the dream (PETS/MBPO)"
# real env steps per loop step: how soon Ctrl-C is honoured (a model refit, or a dream-training
# phase, is the longest thing that can run between two checks)
STEP_CHUNK = 10


class EnvSection(StrictModel):
    id: str = Field(
        default="CartPole-v1", description="Gymnasium id, or your own env as 'module:Class'"
    )
    kwargs: dict[str, Any] = Field(default_factory=dict, description="passed to the env")
    max_episode_steps: int | None = Field(
        default=None, ge=1, description="time limit for own classes"
    )


class Config(RecipeConfig, AgentConfig):
    """Env, model, the agent's settings (`AgentConfig`: mode, planner, dream, refit schedule)
    and the run's budget and evaluation schedule."""

    recipe: str = "worldmodel"
    env: EnvSection = Field(default_factory=EnvSection)
    model: ModelSection = Field(default_factory=ModelSection)
    total_steps: int = Field(default=2000, ge=1, description="real env steps in all")
    eval_every: int = Field(default=250, ge=1, description="real steps between evaluations")
    eval_episodes: int = Field(default=10, ge=1)
    target_return: float | None = Field(
        default=None, description="stop once the eval mean reaches it"
    )

    @model_validator(mode="after")
    def _schedule_fits(self) -> "Config":
        if self.total_steps <= self.initial_steps:
            raise ValueError(
                f"total_steps ({self.total_steps}) must exceed initial_steps "
                f"({self.initial_steps}): the model is first fit after the random steps"
            )
        if self.eval_every <= self.initial_steps:
            raise ValueError(
                f"eval_every ({self.eval_every}) must exceed initial_steps "
                f"({self.initial_steps}): the first evaluation needs a fitted model"
            )
        return self


def quick_overrides(config: Config) -> list[str]:
    """`gmrl run ... --quick`: this run at a budget that ends in about a minute on a CPU (600 real
    steps, a smaller model, planner and dream phase): to try a config or an env, not to measure.
    """
    population = min(config.planner.population, 50)
    return [
        f"total_steps={min(config.total_steps, 600)}", "initial_steps=100",
        "eval_every=300", f"eval_episodes={min(config.eval_episodes, 2)}",
        "fit_every=200", "early_fit_every=100", "early_fit_until=600",
        f"model.max_epochs={min(config.model.max_epochs, 10)}",
        f"model.hidden={min(config.model.hidden, 64)}",
        f"planner.population={population}",
        f"planner.elites={min(config.planner.elites, population)}",
        f"planner.horizon={min(config.planner.horizon, 10)}",
        f"value.updates={min(config.value.updates, 100)}",
        f"dream.steps={min(config.dream.steps, 1000)}",
    ]


# ---------------------------------------------------------------------- building blocks
def make_env_fn(config: Config) -> Any:
    from gmrl.worldmodel.envs import env_factory

    return env_factory(config.env.id, config.env.kwargs, config.env.max_episode_steps)


def prepare(config: Config) -> None:
    """Check the env and the model's functions before the run directory is created."""
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
    model_functions(config.model, config.env.id)
    from gymnasium import spaces

    if config.planner.kind == "mcts" and not isinstance(env.action_space, spaces.Discrete):
        raise ConfigError("planner.kind=mcts needs Discrete actions: use planner.kind=cem")
    if config.mode == "dream":
        discrete = isinstance(env.action_space, spaces.Discrete)
        if discrete and config.dream.algo in ("sac", "td3"):
            raise ConfigError(f"dream.algo={config.dream.algo} needs Box actions: use dqn or ppo")
        if not discrete and config.dream.algo == "dqn":
            raise ConfigError("dream.algo=dqn needs Discrete actions: use sac, td3 or ppo")
    from gmrl.rl.sb3.factory import sb3_kwargs

    try:  # checked in every mode, so a misspelt key never waits for mode=dream
        sb3_kwargs(config.dream.algo, config.dream.params, env.action_space, env.observation_space)
    except ConfigError as exc:
        raise ConfigError(f"dream.params: {exc}") from exc
    env.close()


def build_agent(config: Config) -> Any:
    """The `ModelBasedAgent` a config describes (used by `run` and by the diagnosis scripts;
    `gmrl.worldmodel.contract.WorldModelAgent` wraps the same agent for the agent contract)."""
    from gmrl.worldmodel.agent import ModelBasedAgent
    from gmrl.worldmodel.build import build_model

    make_env = make_env_fn(config)
    probe = make_env()
    model = build_model(config.model, probe.observation_space, probe.action_space,
                        config.env.id).to(resolve_device(config.device))
    probe.close()
    return ModelBasedAgent(make_env, model, config, seed=config.seed)


def plot_learning_curve(
    run: RunDir, steps: list[int], returns: list[float], config: Config
) -> None:
    plot_return_curve(run, steps, returns, label=f"world model ({config.mode})",
                      title=f"{config.env.id}: world-model agent",
                      episodes=config.eval_episodes, target=config.target_return)


def plot_return_curve(
    run: RunDir, steps: list[int], returns: list[float], *, label: str, title: str,
    episodes: int, target: float | None,
) -> None:
    """Real env steps vs mean evaluation return, in `plots/learning_curve.png`."""
    from gmrl.core.plots import plt, save_figure

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(steps, returns, marker="o", label=label)
    if target is not None:
        ax.axhline(target, color="grey", linestyle="--", label="target")
    ax.set_xlabel("real env steps")
    ax.set_ylabel(f"mean return ({episodes} episodes)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, run.plots_dir / "learning_curve.png", dpi=100)


# ---------------------------------------------------------------------- the run
def run(config: Config, run: RunDir) -> dict[str, float | None]:
    # The model's ops are small and many: on a CPU, extra intra-op threads only add overhead
    # (measured: >6 min instead of 30 s for the quickstart on a loaded 2-core machine).
    with torch_threads(1):
        return _run(config, run)


def _run(config: Config, run: RunDir) -> dict[str, float | None]:
    from gmrl.core.loop import TrainingLoop

    seed_everything(config.seed)
    agent = build_agent(config)
    curve: dict[str, list[Any]] = {"steps": [], "returns": []}
    reached: list[int] = []  # the real step of the first evaluation at the target, if any

    def restore(state: dict[str, Any]) -> None:
        agent.load_state_dict(state["agent"])
        curve.update(steps=[int(v) for v in state["curve"]["steps"]],
                     returns=[float(v) for v in state["curve"]["returns"]])
        reached[:] = [int(v) for v in state["reached"]]

    loop = TrainingLoop(
        run, total=config.total_steps, description=f"{config.env.id} ({config.mode})",
        eval_every=config.eval_every, restore=restore,
        state=lambda: {"agent": agent.state_dict(), "curve": curve, "reached": list(reached)},
    )
    loop.resume()
    with loop:
        while agent.real_steps < config.total_steps and not reached:
            boundary = (agent.real_steps // config.eval_every + 1) * config.eval_every
            step = min(agent.real_steps + STEP_CHUNK, boundary, config.total_steps)
            agent.train(step - agent.real_steps)
            if not loop.eval_due(step):
                loop.end_step(step)
                continue
            metrics = evaluate(agent, config)
            curve["steps"].append(step)
            curve["returns"].append(metrics["eval/mean_return"])
            if config.target_return is not None and curve["returns"][-1] >= config.target_return:
                reached.append(step)
            plot_learning_curve(run, curve["steps"], curve["returns"], config)
            info = (f"return {metrics['eval/mean_return']:.1f}  "
                    f"model mse {metrics['model/val_next_obs_mse']:.2e}")
            loop.end_step(step, metrics, info=info, checkpoint=True if reached else None)
    return {
        "real_env_steps": float(agent.real_steps),
        "final_eval_return": curve["returns"][-1] if curve["returns"] else None,
        "best_eval_return": max(curve["returns"]) if curve["returns"] else None,
        "model_val_next_obs_mse": agent.last_fit.get("val_next_obs_mse"),
        **({"steps_to_target": float(reached[0]) if reached else None}
           if config.target_return is not None else {}),
    }


def evaluate(agent: Any, config: Config) -> dict[str, float]:
    """One evaluation row: mean return of `eval_episodes` episodes and the model's fit."""
    fit = agent.last_fit
    metrics = {
        "charts/real_env_steps": agent.real_steps,
        "eval/mean_return": agent.evaluate(config.eval_episodes),
        "model/val_next_obs_mse": fit.get("val_next_obs_mse", float("nan")),
        "model/holdout_mse": fit.get("holdout_mse", float("nan")),
        "model/fit_epochs": fit.get("epochs", float("nan")),
        "time/fit_s": agent.timings["fit_s"],
        "time/act_s": agent.timings["act_s"],
        "time/plan_ms_per_step": 1000 * agent.timings["plan_s"]
        / max(1, agent.real_steps - config.initial_steps),
    }
    for key in ("termination_hits", "termination_false_alarms", "value_mean"):
        if key in fit:
            metrics[f"model/{key}"] = fit[key]
    if agent.episode_returns:
        metrics["charts/episodic_return"] = agent.episode_returns[-1]
    return metrics
