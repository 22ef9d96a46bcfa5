"""Recipe `tdmpc`: the world-model agent v2 (`TDMPCAgent`) on any Gymnasium task.

config -> `TDMPCAgent(env, config.agent, seed)` -> `agent.learn(...)` in chunks inside the shared
`TrainingLoop` (progress, metrics CSV + TensorBoard, checkpoints, Ctrl-C, exact `--resume`). Every
`eval_every` real steps it logs the mean return of `eval_episodes` deterministic episodes on fresh
env copies (`gmrl.rl.rollout.evaluate_agent`, the same function the benchmarks use), the model's
held-out reward error and termination precision/recall, the losses, and the per-step acting and
update costs; the final agent is saved with `agent.save` in `<run>/agent/` (load it with
`gmrl.load` or `TDMPCAgent.load`).

    gmrl run configs/worldmodel/v2.yaml                      # CartPole-v1
    gmrl run configs/worldmodel/v2.yaml env.id=Pendulum-v1 total_steps=3000
    gmrl run configs/worldmodel/v2.yaml env.id=my_module:MyEnv agent.act=policy
"""

from typing import Any

from pydantic import Field

from gmrl.core.config import RecipeConfig
from gmrl.core.device import torch_threads
from gmrl.core.errors import ConfigError, EnvError
from gmrl.core.rundir import RunDir
from gmrl.core.seeding import derive_seed, seed_everything
from gmrl.recipes.worldmodel import EnvSection, plot_return_curve
from gmrl.worldmodel.tdmpc import TDMPCConfig

SUMMARY = "world-model agent v2: latent model + value + policy prior, MPPI planning (TD-MPC2 class)"
STEP_CHUNK = 10  # real steps per loop step: how soon Ctrl-C is honoured


class Config(RecipeConfig):
    """The env, the agent's settings (`TDMPCConfig`) and the run's budget and evaluations."""

    recipe: str = "tdmpc"
    env: EnvSection = Field(default_factory=EnvSection)
    agent: TDMPCConfig = Field(default_factory=TDMPCConfig)
    total_steps: int = Field(default=5000, ge=1, le=10**9, description="real env steps in all")
    eval_every: int = Field(default=500, ge=1, description="real steps between evaluations")
    eval_episodes: int = Field(default=5, ge=1)
    target_return: float | None = Field(
        default=None, description="stop once the eval mean reaches it"
    )


def make_env_fn(config: Config) -> Any:
    from gmrl.worldmodel.envs import env_factory

    return env_factory(config.env.id, config.env.kwargs, config.env.max_episode_steps)


def prepare(config: Config) -> None:
    """Check the env before the run directory is created."""
    from gmrl.worldmodel.tdmpc.agent import check_spaces

    try:
        env = make_env_fn(config)()
    except (EnvError, ConfigError):
        raise
    except Exception as exc:  # a user's env that fails to build
        raise EnvError(
            f"env '{config.env.id}' failed to build: {str(exc).splitlines()[0]}"
        ) from exc
    check_spaces(env.observation_space, env.action_space, config.env.id)
    env.close()


def build_agent(config: Config) -> Any:
    """The `TDMPCAgent` a config describes, on a fresh training env."""
    from gmrl.worldmodel.tdmpc import TDMPCAgent

    return TDMPCAgent(make_env_fn(config)(), config.agent, seed=config.seed,
                      device=config.device)


def evaluate(agent: Any, config: Config, step: int) -> dict[str, float]:
    """One evaluation row: return, held-out model metrics, losses and per-step costs."""
    from gmrl.rl.rollout import evaluate_agent

    returns = evaluate_agent(agent, make_env_fn(config), episodes=config.eval_episodes,
                             seed=derive_seed(config.seed, "eval_episodes"))
    timings = agent.timings
    metrics: dict[str, float] = {
        "charts/real_env_steps": float(step),
        "eval/mean_return": float(returns.mean()),
        "eval/std_return": float(returns.std()),
        "time/act_ms_per_step": 1000 * timings["act_s"] / max(1, timings["act_steps"]),
        "time/update_ms_per_step": 1000 * timings["update_s"] / max(1, timings["update_steps"]),
        "time/plan_iterations_per_step": timings.get("plan_iterations", 0)
        / max(1, timings["act_steps"]),
    }
    metrics.update({f"model/{k}": v for k, v in agent.model_metrics().items()})
    metrics.update({f"losses/{k}": v for k, v in agent.last_losses.items()})
    if agent.episode_returns:
        metrics["charts/episodic_return"] = agent.episode_returns[-1]
    return metrics


def plot_learning_curve(run: RunDir, steps: list[int], returns: list[float],
                        config: Config) -> None:
    plot_return_curve(run, steps, returns, label=f"tdmpc ({config.agent.act})",
                      title=f"{config.env.id}: world-model agent v2",
                      episodes=config.eval_episodes, target=config.target_return)


def run(config: Config, run: RunDir) -> dict[str, float | None]:
    # small networks, many ops: extra intra-op threads only add overhead on a CPU
    with torch_threads(1):
        return _run(config, run)


def _run(config: Config, run: RunDir) -> dict[str, float | None]:
    from gmrl.core.loop import TrainingLoop

    seed_everything(config.seed)
    agent = build_agent(config)
    curve: dict[str, list[Any]] = {"steps": [], "returns": []}
    reached: list[int] = []

    def restore(state: dict[str, Any]) -> None:
        agent.load_state_dict(state["agent"])
        curve.update(steps=[int(v) for v in state["curve"]["steps"]],
                     returns=[float(v) for v in state["curve"]["returns"]])
        reached[:] = [int(v) for v in state["reached"]]

    loop = TrainingLoop(
        run, total=config.total_steps, description=f"{config.env.id} (tdmpc)",
        eval_every=config.eval_every, restore=restore,
        state=lambda: {"agent": agent.state_dict(), "curve": curve, "reached": list(reached)},
    )
    loop.resume()
    with loop:
        while agent.num_timesteps < config.total_steps and not reached:
            boundary = (agent.num_timesteps // config.eval_every + 1) * config.eval_every
            step = min(agent.num_timesteps + STEP_CHUNK, boundary, config.total_steps)
            agent.learn(step - agent.num_timesteps)
            if not loop.eval_due(step):
                loop.end_step(step)
                continue
            metrics = evaluate(agent, config, step)
            curve["steps"].append(step)
            curve["returns"].append(metrics["eval/mean_return"])
            if config.target_return is not None and curve["returns"][-1] >= config.target_return:
                reached.append(step)
            plot_learning_curve(run, curve["steps"], curve["returns"], config)
            info = (f"return {metrics['eval/mean_return']:.1f}  "
                    f"act {metrics['time/act_ms_per_step']:.0f} ms  "
                    f"update {metrics['time/update_ms_per_step']:.0f} ms")
            loop.end_step(step, metrics, info=info, checkpoint=True if reached else None)
    agent.save(run.path / "agent")
    return {
        "real_env_steps": float(agent.num_timesteps),
        "final_eval_return": curve["returns"][-1] if curve["returns"] else None,
        "best_eval_return": max(curve["returns"]) if curve["returns"] else None,
        **({"steps_to_target": float(reached[0]) if reached else None}
           if config.target_return is not None else {}),
    }
