"""SB3 factory (params pass-through, YAML conversions, errors), RunDir callback, agent I/O."""

import numpy as np
import pytest
import torch
from stable_baselines3.common.noise import NormalActionNoise
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from gmrl.core.checkpoint import save_tensors
from gmrl.core.errors import CheckpointError, ConfigError, EnvError
from gmrl.core.rundir import RunDir
from gmrl.core.seeding import rng_state, set_rng_state
from gmrl.rl.sb3 import (
    RunDirCallback,
    check_sb3_params,
    load_sb3_agent,
    load_sb3_state,
    make_sb3_agent,
    save_sb3_agent,
    sb3_state,
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
    ppo = make_sb3_agent("ppo", "CartPole-v1", {"clip_range": "lin_0.2",
                                                "clip_range_vf": "lin_0.5"}, device="cpu")
    assert ppo.clip_range(0.25) == pytest.approx(0.05)  # rl-zoo's annealed clip range
    assert ppo.clip_range_vf(1.0) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("algo", "params", "expected"),
    [
        ("ppo", {"n_step": 32}, "unknown key 'n_step'; did you mean 'n_steps'"),
        ("dqn", {"seed": 3}, "'seed' is set by gmrl"),
        ("sac", {"n_envs": 0}, "'n_envs': Input should be greater than or equal to 1"),
        ("ppo", {"learning_rate": float("inf")}, "finite positive number"),
        ("dqn", {"learning_rate": "lin_-1"}, "finite positive number"),
        ("ppo", {"clip_range": "lin_x"}, "'clip_range': must be a finite positive number or "
                                         "lin_<value> (e.g. lin_0.2)"),
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


def test_agent_roundtrip_keeps_optimizers_and_replay_buffer(tmp_path):
    params = {"learning_starts": 20, "batch_size": 8}
    model = make_sb3_agent("sac", "Pendulum-v1", params, seed=1, device="cpu")
    model.learn(40)
    path = save_sb3_agent(model, tmp_path / "sac.safetensors", algo="sac", env_id="Pendulum-v1",
                          params=params, seed=1)
    again = load_sb3_agent(path, device="cpu")
    obs = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_allclose(again.predict(obs, deterministic=True)[0],
                               model.predict(obs, deterministic=True)[0])
    assert again.num_timesteps == 40 and again._n_updates == model._n_updates > 0
    assert again.replay_buffer.pos == 40
    np.testing.assert_array_equal(again.replay_buffer.observations[:40],
                                  model.replay_buffer.observations[:40])
    for name in ("actor", "critic"):
        saved = getattr(model, name).optimizer.state_dict()["state"]
        loaded = getattr(again, name).optimizer.state_dict()["state"]
        assert saved.keys() == loaded.keys() and saved
        torch.testing.assert_close(saved[0]["exp_avg"], loaded[0]["exp_avg"])
    assert float(again.log_ent_coef.detach()) == float(model.log_ent_coef.detach())


def test_bad_and_old_files_are_one_line_errors(tmp_path):
    (tmp_path / "other.safetensors").write_bytes(b"\x00" * 16)
    with pytest.raises(CheckpointError) as exc:
        load_sb3_agent(tmp_path / "other.safetensors")
    assert "\n" not in str(exc.value)
    old = save_tensors(tmp_path / "old.safetensors", {"policy.w": torch.zeros(2)},
                       {"class": "sb3", "algo": "ppo", "nets": {}})
    with pytest.raises(CheckpointError, match="old weights-only format"):
        load_sb3_agent(old)


@pytest.mark.parametrize(("algo", "env", "params"), [
    ("dqn", "CartPole-v1", {"learning_starts": 30, "train_freq": 4,
                            "target_update_interval": 20}),
    ("ppo", "CartPole-v1", {"n_steps": 32, "batch_size": 32, "n_epochs": 1, "n_envs": 2}),
])
def test_state_continues_training_exactly(tmp_path, algo, env, params):
    """A fresh agent given the state saved at a rollout start (plus the global RNGs) ends with
    the same weights as the agent that never stopped: env mid-episode, buffer, counters."""
    budget, snapshot = 200, {}

    def build():
        return make_sb3_agent(algo, env, params, seed=3, device="cpu")

    def grab(step):
        if step >= 100 and not snapshot:
            snapshot.update(agent=sb3_state(straight), rng=rng_state(), step=step)

    run = RunDir.create(tmp_path, "sb3test", "recipe: x\n", quiet=True)
    straight = build()
    RunDirCallback(run, on_rollout_start=grab).learn(straight, budget)
    resumed = build()
    load_sb3_state(resumed, snapshot["agent"])
    set_rng_state(snapshot["rng"])
    assert resumed.num_timesteps == snapshot["step"] < budget
    RunDirCallback(run, resume_state=snapshot["agent"]).learn(resumed, budget - snapshot["step"])
    run.close()
    assert resumed.num_timesteps == straight.num_timesteps
    for key, value in straight.policy.state_dict().items():
        torch.testing.assert_close(resumed.policy.state_dict()[key], value, rtol=0, atol=0)


def test_on_policy_dumps_follow_one_global_schedule(tmp_path):
    """A2C dumps every 100 rollouts; learning in two calls (as a resumed run does) keeps the
    dumps at rollouts 100, 200, 300 rather than restarting SB3's per-call count."""
    run = RunDir.create(tmp_path, "sb3test", "recipe: x\n", quiet=True)
    model = make_sb3_agent("a2c", "CartPole-v1", {"n_steps": 1}, seed=0, device="cpu")
    callback = RunDirCallback(run)
    callback.learn(model, 150)
    callback.learn(model, 150)
    run.close()
    dumped = [int(row["step"]) for row in run.rows if row.get("train/value_loss", "") != ""]
    assert dumped == [100, 200, 300]
