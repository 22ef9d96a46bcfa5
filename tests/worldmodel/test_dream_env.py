"""DreamEnv is a true Gymnasium env; SB3 PPO and SAC learn in it; DreamVecEnv semantics."""

import gymnasium as gym
import numpy as np
import pytest
import stable_baselines3 as sb3
import torch
from gymnasium.utils.env_checker import check_env

from gmrl.rl.transitions import random_transitions
from gmrl.worldmodel import known_fns
from gmrl.worldmodel.dream_env import DreamEnv, DreamVecEnv
from gmrl.worldmodel.ensemble import EnsembleConfig, GaussianEnsemble


@pytest.fixture(scope="module")
def cartpole() -> tuple[GaussianEnsemble, dict[str, torch.Tensor], gym.Env]:
    env = gym.make("CartPole-v1")
    data = random_transitions(env, 200)
    torch.manual_seed(0)
    model = GaussianEnsemble.from_spaces(
        env.observation_space,
        env.action_space,
        config=EnsembleConfig(hidden=32),
        termination_fn=known_fns.cartpole_termination,
        reward_fn=known_fns.cartpole_reward,
    )
    model.fit(data, max_epochs=5)
    return model, data, env


@pytest.fixture(scope="module")
def pendulum() -> tuple[GaussianEnsemble, dict[str, torch.Tensor], gym.Env]:
    env = gym.make("Pendulum-v1")
    data = random_transitions(env, 200)
    torch.manual_seed(0)
    model = GaussianEnsemble.from_spaces(
        env.observation_space, env.action_space, config=EnsembleConfig(hidden=32)
    )
    model.fit(data, max_epochs=5)  # reward and termination learned
    return model, data, env


def test_dream_env_passes_gymnasium_check_env(cartpole, pendulum) -> None:
    for model, data, env in (cartpole, pendulum):
        dream = DreamEnv(
            model, data["obs"].numpy(), env.observation_space, env.action_space, horizon=20
        )
        check_env(dream, skip_render_check=True)


def test_dream_env_horizon_and_uncertainty_truncation(cartpole) -> None:
    model, data, env = cartpole
    dream = DreamEnv(model, data["obs"].numpy(), env.observation_space, env.action_space, horizon=3)
    obs, _ = dream.reset(seed=0)
    assert any(np.allclose(obs, s) for s in data["obs"].numpy())  # starts from a real state
    for t in range(3):
        obs, _, term, trunc, _ = dream.step(1 - t % 2)
        if term:
            break
    assert term or trunc
    strict = DreamEnv(
        model,
        data["obs"].numpy(),
        env.observation_space,
        env.action_space,
        horizon=100,
        uncertainty_threshold=1e-9,
    )
    strict.reset(seed=0)
    *_, trunc, info = strict.step(0)
    assert trunc and info["too_uncertain"]


@pytest.mark.parametrize("algo", ["PPO", "SAC"])
def test_sb3_learns_in_the_dream(algo, cartpole, pendulum) -> None:
    model, data, env = cartpole if algo == "PPO" else pendulum
    dream = DreamEnv(
        model, data["obs"].numpy(), env.observation_space, env.action_space, horizon=20
    )
    kwargs = (
        {"n_steps": 32, "batch_size": 16, "n_epochs": 1}
        if algo == "PPO"
        else {"learning_starts": 16, "batch_size": 16}
    )
    agent = getattr(sb3, algo)("MlpPolicy", dream, seed=0, device="cpu", **kwargs)
    before = [p.detach().clone() for p in agent.policy.parameters()]
    agent.learn(64)
    after = list(agent.policy.parameters())
    assert agent.num_timesteps >= 64
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_dream_vec_env_batches_and_autoresets(pendulum) -> None:
    model, data, env = pendulum
    vec = DreamVecEnv(
        model,
        data["obs"].numpy(),
        env.observation_space,
        env.action_space,
        num_envs=8,
        horizon=2,
        seed=0,
    )
    obs = vec.reset()
    assert obs.shape == (8, 3)
    vec.step(np.zeros((8, 1), dtype=np.float32))
    obs, reward, done, infos = vec.step(np.zeros((8, 1), dtype=np.float32))
    assert obs.shape == (8, 3) and reward.shape == (8,) and done.all()
    assert all("terminal_observation" in i and i["TimeLimit.truncated"] for i in infos)
    agent = sb3.SAC("MlpPolicy", vec, seed=0, device="cpu", learning_starts=8, batch_size=16)
    agent.learn(48)
    assert agent.num_timesteps >= 48
