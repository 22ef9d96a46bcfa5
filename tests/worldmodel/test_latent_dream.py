"""LatentDreamVecEnv (SB3 trains in it) and LatentController (acts in the real pixel env)."""

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import PPO

from gmrl.worldmodel.latent_dream import LatentController, LatentDreamVecEnv
from gmrl.worldmodel.latent_model import LatentModelConfig, LatentWorldModel
from gmrl.worldmodel.pixels import make_pixel_env


def test_dream_vec_env_steps_a_batch_and_resets_finished_dreams() -> None:
    model = LatentWorldModel(frame_shape=(2, 16, 32), config=LatentModelConfig(z_dim=4, hidden=8))
    starts = torch.randn(10, model.state_dim)
    env = LatentDreamVecEnv(model, starts, spaces.Discrete(2), num_envs=6, horizon=3)
    obs = env.reset()
    assert obs.shape == (6, 12) and obs.dtype == np.float32
    ends = 0
    for _ in range(3):
        obs, reward, done, infos = env.step(np.ones(6, dtype=np.int64))
        ends += int(done.sum())
        assert obs.shape == (6, 12) and reward.shape == (6,) and done.shape == (6,)
        for flag, info in zip(done, infos, strict=True):
            assert flag == ("terminal_observation" in info) == ("episode" in info)
    assert ends >= 6  # the horizon of 3 ends every dream at least once


def test_ppo_learns_in_the_dream_and_acts_from_frames() -> None:
    torch.manual_seed(0)
    model = LatentWorldModel(
        frame_shape=(2, 16, 32), config=LatentModelConfig(z_dim=4, hidden=8, vae_channels=4)
    )
    dream = LatentDreamVecEnv(
        model, torch.randn(20, model.state_dim), spaces.Discrete(2), num_envs=4
    )
    agent = PPO("MlpPolicy", dream, n_steps=16, batch_size=32, n_epochs=1, seed=0, device="cpu")
    agent.learn(64)
    env = make_pixel_env("CartPole-v1", size=(16, 32), action_repeat=2)
    controller = LatentController(model, lambda obs: agent.predict(obs, deterministic=True)[0])
    episode, episode_return, env_steps = controller.run_episode(env, seed=0)
    assert episode.frames.shape == (len(episode) + 1, 2, 16, 32)
    assert episode.frames.dtype == torch.uint8 and episode.actions.shape == (len(episode),)
    assert episode_return == float(episode.rewards.sum()) == env_steps  # CartPole: +1 per step
    assert len(episode) <= env_steps <= 2 * len(episode)


def test_latent_model_plugs_into_the_shared_dream_env() -> None:
    """The vector-state DreamEnv takes a LatentWorldModel unchanged: obs = latent [z, h]."""
    from gymnasium.utils.env_checker import check_env

    from gmrl.worldmodel.dream_env import DreamEnv

    model = LatentWorldModel(frame_shape=(2, 16, 32), config=LatentModelConfig(z_dim=4, hidden=8))
    bound = np.full(model.state_dim, np.inf, dtype=np.float32)
    starts = torch.randn(10, model.state_dim).numpy()
    env = DreamEnv(model, starts, spaces.Box(-bound, bound), spaces.Discrete(2), horizon=5)
    check_env(env, skip_render_check=True)
    env.reset(seed=0)
    nxt, reward, terminated, truncated, _ = env.step(1)
    assert nxt.shape == (12,) and isinstance(reward, float)
    assert isinstance(terminated, bool) and isinstance(truncated, bool)
