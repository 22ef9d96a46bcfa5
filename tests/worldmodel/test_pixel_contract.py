"""`PixelWorldModelAgent`: envs it accepts, `learn`'s budget and callback, the frame filter in
`predict`, CEM, save/load, its own random generators, and one path with `gmrl run`."""

import csv
import random
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

import gmrl
from gmrl.core.errors import ConfigError, EnvError
from gmrl.worldmodel.pixel_contract import PixelWorldModelAgent
from gmrl.worldmodel.pixels import make_pixel_env

TINY: dict[str, Any] = {
    "random_episodes": 2, "episodes_per_iteration": 1,
    "model": {"first_vae_steps": 1, "vae_steps": 1, "first_rnn_steps": 4, "rnn_steps": 2,
              "hidden": 16, "vae_channels": 4},
    "controller": {"dream_steps": 64, "num_envs": 2,
                   "ppo": {"n_steps": 32, "batch_size": 32, "n_epochs": 1},
                   "cem": {"horizon": 3, "population": 8, "elites": 2, "iterations": 1}}}


def pixel_env() -> gym.Env:
    return make_pixel_env("CartPole-v1", size=(16, 32), action_repeat=3, max_episode_steps=20)


def tiny(**changes: Any) -> dict[str, Any]:
    return {**TINY, **changes}


def learn_iterations(agent: PixelWorldModelAgent, count: int) -> PixelWorldModelAgent:
    """The warm-up (if not done) and `count` more iterations, whatever steps they take."""
    end = agent.iteration + count
    return agent.learn(10**9, lambda a: a.iteration < end)


@pytest.fixture(scope="module")
def trained() -> PixelWorldModelAgent:
    """Warm-up and one iteration (PPO trained in the dream)."""
    agent = learn_iterations(PixelWorldModelAgent(pixel_env(), TINY, seed=0, device="cpu"), 1)
    assert agent.iteration == 1 and agent.inner.ppo is not None
    return agent


def test_a_state_env_or_an_id_is_remade_with_frames() -> None:
    state_env = gym.make("CartPole-v1", max_episode_steps=20)
    frames = {"size": [16, 32], "stack": 3, "action_repeat": 2}
    agent = PixelWorldModelAgent(state_env, tiny(frames=frames), device="cpu")
    assert agent.observation_space.shape == (3, 16, 32)
    assert agent.env is not None and agent.env.spec is not None
    assert agent.env.spec.max_episode_steps == 20  # the given env's time limit is kept
    assert agent.env_id == "CartPole-v1"
    by_id = PixelWorldModelAgent("CartPole-v1", tiny(frames=frames), device="cpu")
    assert by_id.observation_space == agent.observation_space
    # a pixel env is used as it is; the settings record its frames
    given = PixelWorldModelAgent(pixel_env(), tiny(frames=frames), device="cpu")
    assert given.observation_space.shape == (2, 16, 32)
    assert given.settings.frames.size == (16, 32) and given.settings.frames.action_repeat == 3


@pytest.mark.parametrize(("env", "config", "error", "match"), [
    ("Pendulum-v1", {}, EnvError, "Discrete"),
    ("CartPole-v1", {"frames": {"size": [12, 32]}}, EnvError, "multiples of 8"),
    ("CartPole-v1", {"random_episode": 3}, ConfigError, "random_episode"),
    ("CartPole-v1", {"controller": {"kind": "dqn"}}, ConfigError, "controller.kind"),
])
def test_what_it_cannot_handle_is_one_line(env: str, config: dict[str, Any],
                                           error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match) as caught:
        PixelWorldModelAgent(env, config, device="cpu")
    assert "\n" not in str(caught.value)


def test_learn_counts_real_steps_and_calls_back_after_every_episode() -> None:
    agent = PixelWorldModelAgent(pixel_env(), tiny(random_episodes=3), device="cpu")
    seen: list[tuple[int, int]] = []
    agent.learn(1, lambda a: seen.append((a.num_timesteps, len(a.inner.episodes))))
    assert seen == [(agent.num_timesteps, 1)]  # the budget is spent: one warm-up episode
    assert not agent.warmed_up and agent.iteration == 0
    steps = agent.num_timesteps
    agent.learn(60, lambda a: seen.append((a.num_timesteps, len(a.inner.episodes))))
    assert [episodes for _, episodes in seen] == list(range(1, len(seen) + 1))
    assert [s for s, _ in seen] == sorted({s for s, _ in seen})  # strictly increasing
    assert seen[-1][0] == agent.num_timesteps >= steps + 60  # the warm-up is at most 60 steps
    assert agent.warmed_up and agent.iteration >= 1
    assert set(agent.last_metrics) >= {"charts/episodic_return", "losses/vae_loss"}


def test_a_false_callback_stops_the_warm_up_or_the_act_phase_after_its_episode() -> None:
    agent = PixelWorldModelAgent(pixel_env(), tiny(random_episodes=3, episodes_per_iteration=3),
                                 device="cpu")
    agent.learn(10_000, lambda a: False)
    assert len(agent.inner.episodes) == 1  # the warm-up goes on where it stopped
    agent.learn(10_000, lambda a: a.warmed_up is False)
    assert len(agent.inner.episodes) == 3 and agent.iteration == 0
    agent.learn(10_000, lambda a: False)  # the first act episode: that iteration ends there
    assert agent.iteration == 1 and len(agent.inner.episodes) == 4
    assert agent.inner.returns[-1][0] == agent.num_timesteps


def test_predict_runs_the_frame_filter_and_restarts_rows(trained: PixelWorldModelAgent) -> None:
    env, model = pixel_env(), trained.model
    frame, _ = env.reset(seed=3)
    action, state = trained.predict(frame)
    expected = model.initial_state(torch.as_tensor(frame)[None])
    np.testing.assert_allclose(state["latent"], expected.numpy(), rtol=1e-5, atol=1e-6)
    assert trained.action_space.contains(action) and state["action"].tolist() == [int(action)]
    for _ in range(3):
        frame, *_ = env.step(int(action))
        expected = model.observe(expected, torch.as_tensor([int(action)]),
                                 torch.as_tensor(frame)[None])
        action, state = trained.predict(frame, state)
        np.testing.assert_allclose(state["latent"], expected.numpy(), rtol=1e-5, atol=1e-6)
        assert int(action) == int(trained.inner.ppo.predict(expected.numpy(),
                                                            deterministic=True)[0][0])
    # a batch: the row that starts an episode forgets h, the other keeps it
    frames = np.stack([frame, frame])
    _, carried = trained.predict(frames, {"latent": np.repeat(state["latent"], 2, 0),
                                          "action": np.repeat(state["action"], 2)},
                                 episode_start=np.array([True, False]))
    hidden = carried["latent"][:, model.z_dim:]
    assert not hidden[0].any() and hidden[1].any()


def test_save_load_round_trip_and_learning_on(trained: PixelWorldModelAgent,
                                              tmp_path: Path) -> None:
    frames = np.stack([pixel_env().reset(seed=seed)[0] for seed in range(4)])
    actions, _ = trained.predict(frames)
    path = trained.save(tmp_path / "agent")
    loaded = gmrl.load(path)
    assert isinstance(loaded, PixelWorldModelAgent) and loaded.env is None
    np.testing.assert_array_equal(loaded.predict(frames)[0], actions)
    assert (loaded.num_timesteps, loaded.iteration) == (trained.num_timesteps, 1)
    assert len(loaded.inner.episodes) == len(trained.inner.episodes)
    with pytest.raises(EnvError, match="no env to learn in"):
        loaded.learn(10)
    # a state env given to load is remade with the saved frames
    again = PixelWorldModelAgent.load(path, env=gym.make("CartPole-v1", max_episode_steps=20))
    np.testing.assert_array_equal(again.predict(frames)[0], actions)
    learn_iterations(again, 1)  # fine-tuning budgets: the model has been fit once
    assert again.iteration == 2 and int(again.model.fits) == 2
    with pytest.raises(EnvError, match="differ"):
        PixelWorldModelAgent.load(path, env=make_pixel_env("CartPole-v1", size=(16, 64)))


def test_cem_plans_repeatably_and_carries_its_warm_start(tmp_path: Path) -> None:
    config = tiny(controller={**TINY["controller"], "kind": "cem"})
    agent = learn_iterations(PixelWorldModelAgent(pixel_env(), config, seed=1, device="cpu"), 1)
    assert agent.inner.ppo is None
    frames = np.stack([pixel_env().reset(seed=seed)[0] for seed in range(3)])
    actions, state = agent.predict(frames)
    assert state["plan"].shape == (3, 3, 2)  # (rows, horizon, actions)
    np.testing.assert_array_equal(agent.predict(frames)[0], actions)
    step, _ = agent.predict(frames, state, episode_start=np.array([False, True, False]))
    assert step.shape == (3,)
    loaded = gmrl.load(agent.save(tmp_path / "cem"))
    np.testing.assert_array_equal(loaded.predict(frames)[0], actions)


def test_its_seed_decides_and_the_callers_generators_are_left_alone() -> None:
    weights = []
    for value in (1, 2):
        torch.manual_seed(value)
        agent = PixelWorldModelAgent(pixel_env(), TINY, seed=5, device="cpu")
        weights.append({k: v.clone() for k, v in agent.model.state_dict().items()})
    for key, value in weights[0].items():
        torch.testing.assert_close(weights[1][key], value, rtol=0, atol=0, msg=key)
    random.seed(7)
    np.random.seed(7)
    torch.manual_seed(7)
    before = random.random(), np.random.random(), float(torch.rand(()))
    random.seed(7)
    np.random.seed(7)
    torch.manual_seed(7)
    learn_iterations(agent, 1)  # the warm-up and an iteration: VAE, MDN-RNN and PPO training
    assert (random.random(), np.random.random(), float(torch.rand(()))) == before


def test_the_recipe_and_the_python_api_are_one_path(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from gmrl.cli import app
    from gmrl.core.config import load_config
    from gmrl.recipes import load_recipe, worldmodel_pixels

    config_path = Path(__file__).resolve().parents[2] / "configs/worldmodel/cartpole_pixels.yaml"
    overrides = ["random_episodes=2", "iterations=1", "episodes_per_iteration=1",
                 "max_episode_steps=20", "frames.size=[16,32]", "model.first_vae_steps=1",
                 "model.first_rnn_steps=4", "model.hidden=16", "model.vae_channels=4",
                 "controller.dream_steps=64", "controller.num_envs=2",
                 "controller.ppo={n_steps: 32, batch_size: 32, n_epochs: 1}"]
    result = CliRunner().invoke(app, ["run", str(config_path), *overrides, "--runs",
                                      str(tmp_path), "-q"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((next(tmp_path.iterdir()) / "metrics.csv").open()))

    config = load_config(config_path, overrides, lambda name: load_recipe(name).Config)
    agent = gmrl.make_agent({"agent": "worldmodel_pixels", "config": config, "seed": config.seed,
                             "device": "cpu"}, worldmodel_pixels.make_env(config))
    agent.learn(1_000_000, lambda a: a.iteration < 1)
    for key, value in agent.last_metrics.items():
        assert float(rows[-1][key]) == pytest.approx(value, rel=1e-6), key
