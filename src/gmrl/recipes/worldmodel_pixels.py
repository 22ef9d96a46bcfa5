"""Recipe `worldmodel_pixels`: World Models (VAE + MDN-RNN) on CartPole from frames alone.

After a random-policy warm-up, `iterations` times: fit the frame VAE and the MDN-RNN to every
real episode so far, train the controller on latent states `[z, h]` (PPO in the latent dream,
or CEM planning through the model), then act in the real env from frames only. The agent is
`gmrl.worldmodel.pixel_contract.PixelWorldModelAgent` (the loop of `LatentAgent` on gmrl's agent
contract), the one the Python API builds: this recipe makes it from the config and calls its
`learn`, whose callback writes the run directory (`TrainingLoop`: a metrics row per iteration,
checkpoints, Ctrl-C between or inside phases, exact resume), then draws the plots: VAE
reconstructions, a dream rollout beside the real frames under the same actions, and the return
against real env steps.
"""

import sys
from typing import Any, Literal

import torch
from pydantic import Field

from gmrl.core.config import RecipeConfig
from gmrl.core.device import resolve_device
from gmrl.core.errors import ConfigError, EnvError
from gmrl.core.loop import TrainingLoop
from gmrl.core.plots import line_plot, plt, save_figure
from gmrl.core.rundir import RunDir
from gmrl.core.seeding import seed_everything, torch_generator
from gmrl.worldmodel.frame_vae import frames_to_ink
from gmrl.worldmodel.latent_agent import LatentAgentConfig
from gmrl.worldmodel.latent_model import Episode, LatentModelConfig, LatentWorldModel
from gmrl.worldmodel.pixel_contract import PixelWorldModelAgent
from gmrl.worldmodel.pixels import FrameSection, PixelObservation, make_pixel_env

SUMMARY = "World Models on pixels: frame VAE + MDN-RNN, controller trained in the latent dream"


class Config(RecipeConfig, LatentAgentConfig):
    """Env and frames, the model (`LatentModelConfig`), the loop (`LatentAgentConfig`:
    controller, warm-up, episodes per iteration) and the number of iterations."""

    recipe: Literal["worldmodel_pixels"] = "worldmodel_pixels"
    env_id: str = "CartPole-v1"
    frames: FrameSection = Field(default_factory=FrameSection)
    model: LatentModelConfig = Field(default_factory=LatentModelConfig)
    iterations: int = Field(default=10, ge=1)
    max_episode_steps: int | None = Field(
        default=None, ge=1, description="cap real episodes (tests)"
    )


def make_env(config: Config) -> PixelObservation:
    kwargs: dict[str, Any] = {}
    if config.max_episode_steps:
        kwargs["max_episode_steps"] = config.max_episode_steps
    return make_pixel_env(
        config.env_id,
        size=config.frames.size,
        stack=config.frames.stack,
        resize=config.frames.resize,
        action_repeat=config.frames.action_repeat,
        **kwargs,
    )


def prepare(config: Config) -> None:
    """Check device, frame size and env before a run directory is created."""
    resolve_device(config.device)
    if config.frames.size[0] % 8 or config.frames.size[1] % 8:
        raise ConfigError(
            f"frames.size={list(config.frames.size)}: both sides must be multiples of 8"
        )
    env = make_env(config)
    try:
        if not hasattr(env.action_space, "n"):
            raise EnvError(
                f"{config.env_id}: this recipe handles Discrete actions (e.g. CartPole-v1)"
            )
        if config.controller.kind == "ppo":
            from gymnasium import spaces

            from gmrl.rl.sb3.factory import sb3_kwargs

            latent = spaces.Box(-1.0, 1.0, (config.model.z_dim + config.model.hidden,))
            try:
                sb3_kwargs("ppo", config.controller.ppo, env.action_space, latent)
            except ConfigError as exc:
                raise ConfigError(f"controller.ppo: {exc}") from exc
    finally:
        env.close()


# ---------------------------------------------------------------------------- plots
def plot_reconstructions(model: LatentWorldModel, episode: Episode, path: Any, n: int = 8) -> None:
    """Top: real frames (last of the stack); bottom: VAE reconstructions."""
    index = torch.linspace(0, len(episode.frames) - 1, n).long()
    real = frames_to_ink(episode.frames[index])[:, -1].numpy()
    recon = model.vae.decode(model.encode(episode.frames[index])).cpu()[:, -1].numpy()
    figure, axes = plt.subplots(2, n, figsize=(1.6 * n, 2.2))
    for column in range(n):
        for row, image in enumerate((real, recon)):
            axes[row, column].imshow(1 - image[column], cmap="gray", vmin=0, vmax=1)
            axes[row, column].axis("off")
    axes[0, 0].set_title("real", fontsize=8, loc="left")
    axes[1, 0].set_title("VAE", fontsize=8, loc="left")
    save_figure(figure, path)


def plot_dream_vs_real(
    model: LatentWorldModel, episode: Episode, path: Any, seed: int, steps: int = 8, stride: int = 2
) -> None:
    """Open-loop dream from the episode's first frame under its actions, beside the real frames."""
    horizon = min(len(episode), steps * stride)
    generator = torch_generator(seed, "worldmodel_pixels.plot_dream")
    state = model.initial_state(episode.frames[:1])
    dream = [model.decode_state(state)]
    for t in range(horizon):
        state, _, _ = model.step(state, episode.actions[t : t + 1], generator=generator)
        dream.append(model.decode_state(state))
    shown = list(range(0, horizon + 1, stride))[:steps]
    real = frames_to_ink(episode.frames[shown])[:, -1].numpy()
    figure, axes = plt.subplots(2, len(shown), figsize=(1.6 * len(shown), 2.2), squeeze=False)
    for column, t in enumerate(shown):
        axes[0, column].imshow(1 - real[column], cmap="gray", vmin=0, vmax=1)
        axes[1, column].imshow(1 - dream[t][0, -1].cpu().numpy(), cmap="gray", vmin=0, vmax=1)
        axes[0, column].set_title(f"t={t}", fontsize=8)
        for row in range(2):
            axes[row, column].axis("off")
    axes[1, 0].set_title("dream", fontsize=8, loc="left")
    save_figure(figure, path)


# ---------------------------------------------------------------------------- the run
def run(config: Config, run: RunDir) -> dict[str, float]:
    """Random warm-up, then fit / train in the dream / act in reality, `iterations` times."""
    seed_everything(config.seed)
    device = resolve_device(config.device)
    env = make_env(config)
    agent = PixelWorldModelAgent(env, config, seed=config.seed, device=device)
    loop = TrainingLoop(
        run, total=config.iterations, description="world model (pixels)", eval_every=1,
        state=lambda: {"agent": agent.state_dict()},
        restore=lambda state: agent.load_state_dict(state["agent"]),
    )
    loop.resume()
    logged = agent.iteration if agent.warmed_up else -1  # the last metrics row in the run

    def log_rows(_: Any) -> bool:
        """After every real episode: log the row of a warm-up or iteration just completed
        (checkpoint when due; Ctrl-C: checkpoint and stop); stop after the last iteration."""
        nonlocal logged
        step = agent.iteration if agent.warmed_up else -1
        if step > logged:
            logged, metrics = step, agent.last_metrics
            if step == 0:  # the random warm-up (a checkpoint at step 0 keeps it)
                loop.log(0, metrics)
                loop.check_stop(0)
            else:
                info = (f"return {metrics['charts/episodic_return']:.0f} @ "
                        f"{agent.num_timesteps} steps")
                loop.end_step(step, metrics, info=info)
        return logged < config.iterations

    with loop:
        if agent.iteration < config.iterations:  # iterations, not env steps, are the budget
            agent.learn(sys.maxsize, log_rows, stop_requested=lambda: loop.stop_requested)
            loop.check_stop(agent.iteration)  # stopped inside an iteration: at a phase's start

    inner, model = agent.inner, agent.model
    model.save(run.checkpoints_dir / "world_model.safetensors")
    inner.save_controller(run.checkpoints_dir / "controller.safetensors")
    plot_reconstructions(model, inner.episodes[-1], run.plots_dir / "reconstructions.png")
    plot_dream_vs_real(model, inner.episodes[-1], run.plots_dir / "dream_vs_real.png", config.seed)
    random_return = inner.random_return
    curve = [(0, random_return), *inner.returns]
    line_plot(
        run.plots_dir / "return.png",
        [s for s, _ in curve],
        {"return": [r for _, r in curve]},
        xlabel="real env steps",
        ylabel="mean episodic return",
        hline=random_return,
        title=f"{config.env_id} from pixels (dashed: random policy)",
    )
    env.close()
    return {
        "final_return": inner.returns[-1][1],
        "best_return": max(r for _, r in inner.returns),
        "random_return": random_return,
        "real_env_steps": float(agent.num_timesteps),
    }
