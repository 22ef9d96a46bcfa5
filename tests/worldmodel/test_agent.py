"""ModelBasedAgent: MPC and dream (SB3 in imagination) loops, evaluation, state round trip."""

import gymnasium as gym
import numpy as np
import stable_baselines3 as sb3
import torch

from gmrl.worldmodel import known_fns
from gmrl.worldmodel.agent import ModelBasedAgent
from gmrl.worldmodel.ensemble import GaussianEnsemble


def pendulum_agent(mode: str, seed: int = 0) -> ModelBasedAgent:
    env = gym.make("Pendulum-v1")
    model = GaussianEnsemble.from_spaces(
        env.observation_space,
        env.action_space,
        hidden=32,
        ensemble_size=3,
        reward_fn=known_fns.pendulum_reward,
        termination_fn=known_fns.never_terminates,
    )
    return ModelBasedAgent(
        lambda: gym.make("Pendulum-v1", max_episode_steps=30),
        model,
        mode=mode,
        initial_steps=30,
        fit_every=30,
        fit_kwargs={"max_epochs": 3},
        planner_kwargs={"horizon": 5, "population": 20, "elites": 4, "iterations": 1},
        sb3_algo=sb3.SAC if mode == "dream" else None,
        sb3_kwargs={"learning_starts": 16, "batch_size": 16, "device": "cpu"},
        dream_envs=8,
        dream_horizon=3,
        dream_steps=32,
        seed=seed,
    )


def test_mpc_loop_counts_real_steps_and_refits() -> None:
    agent = pendulum_agent("mpc")
    agent.train(70)
    assert agent.real_steps == 70 and len(agent.store) == 70
    assert agent.fits == 2  # at 30 (first fit) and at 60
    assert "val_next_obs_mse" in agent.last_fit
    assert len(agent.episode_returns) == 2
    assert np.isfinite(agent.evaluate(2))


def test_early_phase_refits_more_often_then_falls_back_to_fit_every() -> None:
    agent = pendulum_agent("mpc")
    agent.early_fit_every, agent.early_fit_until = 10, 60
    agent.train(70)
    assert agent.fits == 3  # first fit at 30, early refits at 40 and 50
    agent.train(10)
    assert agent.fits == 3  # past step 60 the interval is fit_every (30) again
    agent.train(1)
    assert agent.fits == 4  # at 80, 30 steps after the fit at 50


def test_dream_loop_trains_sb3_in_imagination() -> None:
    agent = pendulum_agent("dream")
    agent.train(40)
    assert agent.fits == 1 and agent.sb3.num_timesteps >= 32
    assert np.isfinite(agent.evaluate(2))


def test_state_dict_round_trip_restores_model_and_data() -> None:
    agent = pendulum_agent("mpc")
    agent.train(35)
    state = agent.state_dict()
    other = pendulum_agent("mpc", seed=1)
    other.load_state_dict(state)
    assert other.real_steps == 35 and other.fits == 1 and len(other.store) == 35
    for a, b in zip(agent.model.parameters(), other.model.parameters(), strict=True):
        torch.testing.assert_close(a, b)
