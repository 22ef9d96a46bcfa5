"""Recipe `worldmodel_pixels`: World Models (VAE + MDN-RNN) on CartPole from frames alone.

Loop, `iterations` times after a random-policy warm-up:

1. fit the frame VAE and the MDN-RNN to every real episode so far (`LatentWorldModel`);
2. train the controller on latent states `[z, h]`: SB3 PPO inside `LatentDreamVecEnv`
   (`controller.kind=ppo`, as in World Models), or no training with CEM planning through the
   model at every real step (`controller.kind=cem`, the other helper's `CEMPlanner`);
3. act in the real env from rendered frames only (encoder + GRU filter), log the return and the
   real env steps used; those episodes become training data for the next round.

Plots: VAE reconstructions, a dream rollout beside the real frames under the same actions, and
the return against real env steps. A checkpoint after every iteration holds the world model,
the PPO policy, the episodes collected so far and every RNG, so `--resume` continues the loop.
"""

from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field
from stable_baselines3 import PPO

from gmrl.core.config import RecipeConfig, StrictModel
from gmrl.core.device import resolve_device
from gmrl.core.errors import ConfigError, EnvError, RunInterrupted
from gmrl.core.plots import line_plot, plt, save_figure
from gmrl.core.rundir import RunDir
from gmrl.core.seeding import rng_state, seed_everything, set_rng_state
from gmrl.worldmodel.frame_vae import frames_to_ink
from gmrl.worldmodel.latent_dream import LatentController, LatentDreamVecEnv, record_episode
from gmrl.worldmodel.latent_model import Episode, LatentWorldModel
from gmrl.worldmodel.pixels import PixelObservation, make_pixel_env

SUMMARY = "World Models on pixels: frame VAE + MDN-RNN, controller trained in the latent dream"


class FrameSection(StrictModel):
    """How frames are rendered: size (H, W, multiples of 8), frames stacked, resize method."""

    size: tuple[int, int] = (32, 64)
    stack: int = Field(2, ge=1, le=4)
    resize: Literal["area", "max"] = "area"
    action_repeat: int = Field(3, ge=1, description="env steps per decision (one frame each)")


class ModelSection(StrictModel):
    """LatentWorldModel sizes and training budget per fit."""

    z_dim: int = Field(16, ge=1)
    hidden: int = Field(64, ge=4)
    mixtures: int = Field(5, ge=1)
    vae_channels: int = Field(16, ge=4)
    beta: float = Field(0.25, gt=0)
    temperature: float = Field(1.0, gt=0, description="MDN sampling temperature in the dream")
    first_vae_steps: int = Field(1500, ge=1, description="VAE updates on the random-policy data")
    vae_steps: int = Field(100, ge=0, description="VAE fine-tuning updates per later iteration")
    first_rnn_steps: int = Field(1500, ge=1, description="MDN-RNN updates in the first fit")
    rnn_steps: int = Field(500, ge=0, description="MDN-RNN updates per later iteration")
    batch_size: int = Field(64, ge=2, description="VAE batch (frames)")
    rnn_batch_size: int = Field(16, ge=1, description="MDN-RNN batch (windows of seq_len)")
    seq_len: int = Field(32, ge=2)


class ControllerSection(StrictModel):
    """Controller on latent states: PPO trained in the dream, or CEM planning in the model."""

    kind: Literal["ppo", "cem"] = "ppo"
    dream_steps: int = Field(30_000, ge=64, description="PPO timesteps in the dream per iteration")
    num_envs: int = Field(16, ge=1)
    horizon: int = Field(200, ge=1, description="dream episode length cap (truncation)")
    ppo: dict[str, Any] = Field(
        default_factory=lambda: {
            "n_steps": 64,
            "batch_size": 256,
            "n_epochs": 4,
            "learning_rate": 3e-4,
        },
        description="extra keyword arguments for stable_baselines3.PPO",
    )
    plan_horizon: int = Field(20, ge=1)
    population: int = Field(100, ge=2)
    elites: int = Field(10, ge=1)
    plan_iterations: int = Field(3, ge=1)


class Config(RecipeConfig):
    recipe: Literal["worldmodel_pixels"] = "worldmodel_pixels"
    env_id: str = "CartPole-v1"
    frames: FrameSection = Field(default_factory=FrameSection)
    model: ModelSection = Field(default_factory=ModelSection)
    controller: ControllerSection = Field(default_factory=ControllerSection)
    random_episodes: int = Field(
        40, ge=2, description="random-policy episodes before the first fit"
    )
    iterations: int = Field(10, ge=1)
    episodes_per_iteration: int = Field(
        5, ge=1, description="real episodes per iteration (data + eval)"
    )
    max_episode_steps: int | None = Field(None, ge=1, description="cap real episodes (tests)")


def make_env(config: Config) -> PixelObservation:
    kwargs = {"max_episode_steps": config.max_episode_steps} if config.max_episode_steps else {}
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
    finally:
        env.close()


def build_model(config: Config, env: PixelObservation) -> LatentWorldModel:
    m = config.model
    return LatentWorldModel(
        frame_shape=env.observation_space.shape,  # type: ignore[arg-type]
        action_dim=int(env.action_space.n),  # type: ignore[attr-defined]
        discrete=True,
        z_dim=m.z_dim,
        hidden=m.hidden,
        mixtures=m.mixtures,
        vae_channels=m.vae_channels,
        beta=m.beta,
        temperature=m.temperature,
    )


def random_episode(
    env: PixelObservation, generator: torch.Generator, seed: int
) -> tuple[Episode, int]:
    """One real episode with uniformly random actions, and the env steps it took."""
    n_actions = int(env.action_space.n)  # type: ignore[attr-defined]
    return record_episode(
        env, lambda _frame: int(torch.randint(n_actions, (), generator=generator)), seed
    )


# ---------------------------------------------------------------------------- checkpoint helpers
def pack_episodes(episodes: list[Episode]) -> dict[str, torch.Tensor]:
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
    generator = torch.Generator().manual_seed(seed)
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


# ---------------------------------------------------------------------------- controller
def make_ppo(config: Config, env: LatentDreamVecEnv, device: torch.device) -> PPO:
    try:
        return PPO(
            "MlpPolicy", env, seed=config.seed, device=device, verbose=0, **config.controller.ppo
        )
    except TypeError as exc:
        raise ConfigError(f"controller.ppo: {str(exc).splitlines()[0]}") from exc


def make_planner_policy(config: Config, model: LatentWorldModel, env: PixelObservation) -> Any:
    """CEM planning through the latent model (the vector-state helper's CEMPlanner)."""
    from gmrl.worldmodel.planners import CEMPlanner

    c = config.controller
    planner = CEMPlanner(
        model,
        env.action_space,
        horizon=c.plan_horizon,
        population=c.population,
        elites=min(c.elites, c.population),
        iterations=c.plan_iterations,
    )
    generator = torch.Generator().manual_seed(config.seed + 7)
    return planner, lambda obs: planner.plan(obs, generator=generator)


def run(config: Config, run: RunDir) -> dict[str, float]:
    """Random warm-up, then fit / train in the dream / act in reality, `iterations` times."""
    seed_everything(config.seed)
    device = resolve_device(config.device)
    env = make_env(config)
    model = build_model(config, env).to(device)
    action_generator = torch.Generator().manual_seed(config.seed + 3)
    fit_generator = torch.Generator().manual_seed(config.seed + 1)
    dream_generator = torch.Generator().manual_seed(config.seed + 2)
    episodes: list[Episode] = []
    ppo: PPO | None = None
    start, real_steps, returns_log = 0, 0, []

    resumed = run.load_latest_checkpoint()
    if resumed is not None:
        start, state = resumed
        model.load_training_state(state["model"])
        episodes = unpack_episodes(state["episodes"])
        real_steps = int(state["real_steps"])
        fit_generator.set_state(state["fit_generator"])
        dream_generator.set_state(state["dream_generator"])
        action_generator.set_state(state["action_generator"])
        set_rng_state(state["rng"])
        if "ppo" in state:
            placeholder = LatentDreamVecEnv(
                model,
                torch.zeros(1, model.state_dim),
                env.action_space,
                num_envs=config.controller.num_envs,
            )
            ppo = make_ppo(config, placeholder, device)  # weights and optimizer loaded next
            ppo.policy.load_state_dict(state["ppo"]["policy"])
            ppo.policy.optimizer.load_state_dict(state["ppo"]["optimizer"])
            ppo.num_timesteps = int(state["ppo"]["num_timesteps"])

    if start == 0:  # random warm-up
        for index in range(config.random_episodes):
            seed = config.seed * 100_000 + index
            episode, env_steps = random_episode(env, action_generator, seed=seed)
            episodes.append(episode)
            real_steps += env_steps
        random_return = float(np.mean([float(e.rewards.sum()) for e in episodes]))
        run.log(0, {"charts/episodic_return": random_return, "charts/real_env_steps": real_steps})
    random_return = float(
        np.mean([float(e.rewards.sum()) for e in episodes[: config.random_episodes]])
    )

    returns_log = [
        (int(r["charts/real_env_steps"]), float(r["charts/episodic_return"])) for r in run.rows
    ]
    last: dict[str, float] = {}
    with run.progress() as bar:
        task = bar.add_task(
            "world model (pixels)", total=config.iterations, completed=start, info=""
        )
        for iteration in range(start + 1, config.iterations + 1):
            first = iteration == 1
            m = config.model
            fit = model.fit_episodes(
                episodes,
                vae_steps=m.first_vae_steps if first else m.vae_steps,
                rnn_steps=m.first_rnn_steps if first else m.rnn_steps,
                batch_size=m.batch_size,
                rnn_batch_size=m.rnn_batch_size,
                seq_len=m.seq_len,
                generator=fit_generator,
            )
            model.eval()
            metrics = {f"losses/{k}": v for k, v in fit.items()}
            if config.controller.kind == "ppo":
                starts = model.latent_states(model.pad(episodes))
                dream = LatentDreamVecEnv(
                    model,
                    starts,
                    env.action_space,
                    num_envs=config.controller.num_envs,
                    horizon=config.controller.horizon,
                    generator=dream_generator,
                )
                if ppo is None:
                    ppo = make_ppo(config, dream, device)
                else:
                    ppo.set_env(dream)
                ppo.learn(config.controller.dream_steps, reset_num_timesteps=False)
                dream_returns = [info["r"] for info in ppo.ep_info_buffer]
                if dream_returns:
                    metrics["charts/dream_return"] = float(np.mean(dream_returns))
                reset_hook = None

                def policy(obs: np.ndarray, agent: PPO = ppo) -> np.ndarray:
                    return agent.predict(obs, deterministic=True)[0]
            else:
                planner, policy = make_planner_policy(config, model, env)
                reset_hook = planner.reset
            controller = LatentController(model, policy)
            new_returns = []
            for index in range(config.episodes_per_iteration):
                if reset_hook is not None:
                    reset_hook()
                episode, episode_return, env_steps = controller.run_episode(
                    env, seed=config.seed * 100_000 + 50_000 + iteration * 100 + index
                )
                episodes.append(episode)
                new_returns.append(episode_return)
                real_steps += env_steps
            metrics.update(
                {
                    "charts/episodic_return": float(np.mean(new_returns)),
                    "charts/episodic_return_min": float(np.min(new_returns)),
                    "charts/real_env_steps": real_steps,
                }
            )
            run.log(iteration, metrics)
            returns_log.append((real_steps, metrics["charts/episodic_return"]))
            last = metrics
            bar.update(
                task,
                advance=1,
                info=f"return {metrics['charts/episodic_return']:.0f} @ {real_steps} steps",
            )
            state = {
                "model": model.training_state(),
                "episodes": pack_episodes(episodes),
                "real_steps": real_steps,
                "fit_generator": fit_generator.get_state(),
                "dream_generator": dream_generator.get_state(),
                "rng": rng_state(),
                "action_generator": action_generator.get_state(),
            }
            if ppo is not None:
                state["ppo"] = {
                    "policy": dict(ppo.policy.state_dict()),
                    "optimizer": ppo.policy.optimizer.state_dict(),
                    "num_timesteps": ppo.num_timesteps,
                }
            run.save_checkpoint(iteration, state)
            if run.stop_requested:
                raise RunInterrupted(iteration)

    model.save(run.checkpoints_dir / "world_model.safetensors")
    if ppo is not None:
        from gmrl.core.checkpoint import save_tensors

        save_tensors(
            run.checkpoints_dir / "controller.safetensors",
            dict(ppo.policy.state_dict()),
            {"class": "sb3 PPO MlpPolicy on [z, h]", "state_dim": model.state_dim},
        )
    plot_reconstructions(model, episodes[-1], run.plots_dir / "reconstructions.png")
    plot_dream_vs_real(model, episodes[-1], run.plots_dir / "dream_vs_real.png", config.seed)
    line_plot(
        run.plots_dir / "return.png",
        [s for s, _ in returns_log],
        {"return": [r for _, r in returns_log]},
        xlabel="real env steps",
        ylabel="mean episodic return",
        hline=random_return,
        title=f"{config.env_id} from pixels (dashed: random policy)",
    )
    env.close()
    final = last or {"charts/episodic_return": float("nan")}
    return {
        "final_return": final["charts/episodic_return"],
        "best_return": max((r for _, r in returns_log[1:]), default=float("nan")),
        "random_return": random_return,
        "real_env_steps": float(real_steps),
    }
