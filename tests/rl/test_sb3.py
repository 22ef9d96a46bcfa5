"""SB3 factory (params pass-through, YAML conversions, errors), RunDir callback, weights I/O."""

import numpy as np
import pytest
import torch
from stable_baselines3.common.noise import NormalActionNoise
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from gmrl.core.errors import CheckpointError, ConfigError, EnvError
from gmrl.core.rundir import RunDir
from gmrl.rl.sb3 import (
    RunDirCallback,
    check_sb3_params,
    load_sb3_weights,
    make_sb3_agent,
    save_sb3_weights,
)

ENVS = {"ppo": "CartPole-v1", "a2c": "CartPole-v1", "dqn": "CartPole-v1",
        "sac": "Pendulum-v1", "td3": "Pendulum-v1"}


@pytest.mark.parametrize("algo", list(ENVS))
def test_factory_passes_params_through(algo):
    params = {"gamma": 0.9, "n_envs": 2,
              "policy_kwargs": {"net_arch": [16, 16], "activation_fn": "relu"}}
    model = make_sb3_agent(algo, ENVS[algo], params, seed=3, device="cpu")
    assert model.gamma == 0.9 and model.n_envs == 2 and model.seed == 3
    assert model.policy_kwargs["activation_fn"] is torch.nn.ReLU


def test_yaml_friendly_values_are_converted():
    model = make_sb3_agent("td3", "Pendulum-v1", {
        "learning_rate": "lin_0.001", "action_noise": {"type": "normal", "sigma": 0.2},
        "train_freq": [1, "episode"], "policy_kwargs": {"optimizer_class": "adamw"},
    }, device="cpu")
    assert model.learning_rate(0.5) == pytest.approx(0.0005)
    assert isinstance(model.action_noise, NormalActionNoise)
    assert model.train_freq.unit.value == "episode"
    assert model.policy_kwargs["optimizer_class"] is torch.optim.AdamW


@pytest.mark.parametrize(
    ("algo", "params", "expected"),
    [
        ("ppo", {"n_step": 32}, "unknown key 'n_step'; did you mean 'n_steps'"),
        ("dqn", {"seed": 3}, "'seed' is set by gmrl"),
        ("sac", {"n_envs": 0}, "n_envs must be a positive integer"),
        ("dqm", {}, "did you mean 'dqn'"),
    ],
)
def test_bad_params_are_one_line(algo, params, expected):
    with pytest.raises(ConfigError) as exc:
        check_sb3_params(algo, params)
    assert expected in str(exc.value) and "\n" not in str(exc.value)


def test_bad_values_rejected_by_sb3_become_config_errors():
    with pytest.raises(ConfigError, match="activation_fn"):
        make_sb3_agent("ppo", "CartPole-v1", {"policy_kwargs": {"activation_fn": "swish2"}})
    with pytest.raises(EnvError, match="dqn needs Discrete actions"):
        make_sb3_agent("dqn", "Pendulum-v1", {})


def test_callback_logs_sb3_values_and_episodes(tmp_path):
    run = RunDir.create(tmp_path, "sb3test", "recipe: x\n", quiet=True)
    model = make_sb3_agent("a2c", "CartPole-v1", {"n_steps": 16, "n_envs": 2}, device="cpu")
    seen = []
    with run.progress() as progress:
        task = progress.add_task("a2c", total=256, info="")
        callback = RunDirCallback(run, progress=progress, task=task, on_step=seen.append)
        model.learn(256, callback=callback, log_interval=2)  # A2C dumps every 100 by default
        assert progress.tasks[0].completed == 256
    run.close()
    assert seen[-1] == 256 and len(seen) == 256 // 2
    columns = set(run.rows[0]) | {k for row in run.rows for k, v in row.items() if v != ""}
    assert {"train/value_loss", "train/policy_loss", "rollout/ep_rew_mean",
            "charts/episodic_return"} <= columns
    assert callback.episode_returns and len(callback.episode_steps) == len(callback.episode_returns)
    events = EventAccumulator(str(run.path))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"train/value_loss", "time/fps", "charts/episodic_return"} <= scalars


def test_hook_returning_false_stops_training(tmp_path):
    run = RunDir.create(tmp_path, "sb3test", "recipe: x\n", quiet=True)
    model = make_sb3_agent("dqn", "CartPole-v1", {"learning_starts": 10}, device="cpu")
    model.learn(1000, callback=RunDirCallback(run, on_step=lambda step: step < 50))
    run.close()
    assert model.num_timesteps == 50


def test_weights_roundtrip_without_pickle(tmp_path):
    model = make_sb3_agent("sac", "Pendulum-v1", {"learning_starts": 20, "batch_size": 8},
                           seed=1, device="cpu")
    model.learn(40)
    path = save_sb3_weights(model, tmp_path / "sac.safetensors", algo="sac", env_id="Pendulum-v1",
                            params={"learning_starts": 20, "batch_size": 8}, seed=1)
    again = load_sb3_weights(path, device="cpu")
    obs = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_allclose(again.predict(obs, deterministic=True)[0],
                               model.predict(obs, deterministic=True)[0])
    (tmp_path / "other.safetensors").write_bytes(b"\x00" * 16)
    with pytest.raises(CheckpointError):
        load_sb3_weights(tmp_path / "other.safetensors")
