"""The `rl` recipe through the real CLI: every algorithm on a tiny budget, bad input, configs."""

import csv
import json
import sys
import types
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from gmrl.cli import app, validate_only
from gmrl.core.config import validate_config
from gmrl.recipes import rl

from . import assert_exact_resume, straight_run


class _BrokenEnv(gym.Env):
    """An env whose reset breaks the API (no info dict): check_env must reject it."""

    observation_space = gym.spaces.Box(-1, 1, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32)

    def step(self, action):
        return np.zeros(2, np.float32), 0.0, True, False, {}


@pytest.fixture(autouse=True)
def _user_env_module(monkeypatch):
    module = types.ModuleType("gmrl_test_rl_user_envs")
    module.BrokenEnv = _BrokenEnv
    monkeypatch.setitem(sys.modules, module.__name__, module)


CONFIGS = sorted(Path("configs/rl").glob("*.yaml"))
runner = CliRunner()

# Tiny budgets: these check that each algorithm runs end to end, not that it learns.
TINY = {
    "q_learning": {"env": "FrozenLake-v1", "episodes": 30, "eval_every": 10},
    "sarsa": {"env": "CliffWalking-v1", "episodes": 5, "params": {"max_episode_steps": 100}},
    "value_iteration": {"env": "FrozenLake-v1"},
    "policy_iteration": {"env": "FrozenLake8x8-v1"},
    "mcts": {"env": "CartPole-v1", "episodes": 2, "env_kwargs": {"max_episode_steps": 15},
             "params": {"n_simulations": 8, "max_depth": 10, "rollouts_per_leaf": 1}},
    "reinforce": {"env": "CartPole-v1", "total_steps": 300, "params": {"num_envs": 2}},
    "actor_critic": {"env": "Pendulum-v1", "total_steps": 128,
                     "params": {"num_envs": 2, "n_steps": 16}},
    "ppo": {"env": "CartPole-v1", "total_steps": 128, "params": {"n_steps": 64, "batch_size": 32,
                                                                 "n_epochs": 1}},
    "a2c": {"env": "CartPole-v1", "total_steps": 64, "params": {"n_envs": 2, "n_steps": 8}},
    "dqn": {"env": "CartPole-v1", "total_steps": 200, "params": {"learning_starts": 50}},
    "sac": {"env": "Pendulum-v1", "total_steps": 220,
            "params": {"learning_starts": 200, "batch_size": 16}},
    "td3": {"env": "Pendulum-v1", "total_steps": 220,
            "params": {"learning_starts": 200, "batch_size": 16,
                       "action_noise": {"type": "normal", "sigma": 0.1}}},
}


def _write(tmp_path: Path, **config) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"recipe": "rl", "eval_episodes": 2, **config}))
    return path


def _run(tmp_path: Path, config: Path, *overrides: str):
    runs = tmp_path / "runs"
    result = runner.invoke(app, ["run", str(config), *overrides, "--runs", str(runs), "-q"])
    return result, runs


def _rows(run_dir: Path) -> list[dict]:
    with (run_dir / "metrics.csv").open() as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("algo", list(TINY))
def test_every_algorithm_runs_a_tiny_budget(tmp_path, algo):
    result, runs = _run(tmp_path, _write(tmp_path, algo=algo, **TINY[algo]))
    assert result.exit_code == 0, result.output
    (run_dir,) = runs.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert "final_mean_return" in summary
    assert (run_dir / "plots" / "learning_curve.png").stat().st_size > 0
    assert any(row.get("eval/mean_return") for row in _rows(run_dir))
    if algo not in ("mcts",):
        assert list((run_dir / "checkpoints").glob("state-*.safetensors"))


def test_sb3_metrics_reach_csv_and_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = _write(tmp_path, algo="ppo", env="CartPole-v1", total_steps=256, eval_every=128,
                    params={"n_steps": 64, "batch_size": 64, "n_epochs": 2, "n_envs": 2})
    result, runs = _run(tmp_path, config)
    assert result.exit_code == 0, result.output
    (run_dir,) = runs.iterdir()
    columns = set(_rows(run_dir)[0])
    for key in ("rollout/ep_rew_mean", "train/value_loss", "train/entropy_loss",
                "charts/episodic_return", "eval/mean_return"):
        assert key in columns
    assert not any(key.startswith("time/") for key in columns)  # wall clock: TensorBoard only
    events = EventAccumulator(str(run_dir))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"rollout/ep_rew_mean", "train/value_loss", "time/fps", "eval/mean_return"} <= scalars
    steps = [event.step for event in events.Scalars("train/value_loss")]
    assert steps == sorted(steps) and steps[-1] <= 256


def test_runs_are_deterministic(tmp_path):
    config = _write(tmp_path, algo="actor_critic", env="CartPole-v1", total_steps=256,
                    params={"num_envs": 2, "n_steps": 16})
    first, runs = _run(tmp_path, config)
    second, _ = _run(tmp_path, config)
    assert first.exit_code == second.exit_code == 0
    a, b = sorted(runs.iterdir())
    assert (a / "metrics.csv").read_text() == (b / "metrics.csv").read_text()


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"algo": "ppo", "env": "CartPol-v1", "total_steps": 10}, "did you mean 'CartPole-v1'"),
        ({"algo": "dqn", "env": "Pendulum-v1", "total_steps": 200}, "dqn needs Discrete actions"),
        ({"algo": "ppo", "env": "gmrl_test_rl_user_envs:BrokenEnv", "total_steps": 10},
         "fails gymnasium's check_env"),
        ({"algo": "ppo", "env": "CartPole-v1", "total_steps": 10, "params": {"n_step": 8}},
         "did you mean 'params.n_steps'"),
        ({"algo": "q_learning", "env": "FrozenLake-v1", "total_steps": 10},
         "counts its budget in episodes"),
        ({"algo": "mcts", "env": "FrozenLake-v1"}, "no model of FrozenLake-v1 for MCTS"),
        ({"algo": "ppo", "env": "CartPole-v1", "total_steps": 10,
          "params": {"policy_kwargs": {"activation_fn": "swish2"}}}, "unknown activation_fn"),
        ({"algo": "actor_critic", "env": "Pendulum-v1", "total_steps": 10,
          "params": {"squash": "sigmoid"}}, "params.squash"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_run_dir(tmp_path, config, expected):
    result, runs = _run(tmp_path, _write(tmp_path, **config))
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert expected in " ".join(result.output.split())
    assert not runs.exists() or not any(runs.iterdir())


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_shipped_configs_validate(path):
    config = validate_only(path, [])
    assert config.recipe == "rl"


@pytest.mark.parametrize(
    ("algo", "params"),
    [("reinforce", {"num_envs": 2}), ("ppo", {"n_steps": 32, "batch_size": 32, "n_epochs": 1})],
)
def test_resume_continues_from_the_last_checkpoint(tmp_path, algo, params):
    config = _write(tmp_path, algo=algo, env="CartPole-v1", total_steps=400,
                    eval_every=100, params=params)
    first, runs = _run(tmp_path, config, "total_steps=200")
    assert first.exit_code == 0, first.output
    (run_dir,) = runs.iterdir()
    # Raise the budget, as if the first run had been interrupted (an override: a hand edit of
    # config.yaml is refused on resume)
    resumed = runner.invoke(app, ["run", "--resume", str(run_dir), "total_steps=400", "-q"])
    assert resumed.exit_code == 0, resumed.output
    steps = [int(row["step"]) for row in _rows(run_dir)]
    assert steps[0] < 200 and max(steps) >= 400 and steps == sorted(steps)


# Budgets a few seconds long, with evaluations (and so checkpoints) before the stop step.
RESUME = {
    "q_learning": ({"env": "FrozenLake-v1", "episodes": 60, "eval_every": 20}, 30),
    "sarsa": ({"env": "CliffWalking-v1", "episodes": 6, "eval_every": 2,
               "params": {"max_episode_steps": 60, "epsilon": {"type": "linear", "start": 0.5,
                                                               "end": 0.0}}}, 70),
    "value_iteration": ({"env": "FrozenLake-v1"}, 0),
    "mcts": ({"env": "CartPole-v1", "episodes": 3, "env_kwargs": {"max_episode_steps": 12},
              "params": {"n_simulations": 8, "max_depth": 8, "rollouts_per_leaf": 1}}, 2),
    "reinforce": ({"env": "CartPole-v1", "total_steps": 300, "eval_every": 80,
                   "params": {"num_envs": 2}}, 120),
    "actor_critic": ({"env": "CartPole-v1", "total_steps": 192, "eval_every": 64,
                      "params": {"num_envs": 2, "n_steps": 16}}, 90),
    "ppo": ({"env": "CartPole-v1", "total_steps": 192, "eval_every": 64,
             "params": {"n_steps": 16, "batch_size": 16, "n_epochs": 2, "n_envs": 2}}, 70),
    "a2c": ({"env": "CartPole-v1", "total_steps": 160, "eval_every": 40,
             "params": {"n_envs": 2, "n_steps": 5}}, 70),
    "dqn": ({"env": "CartPole-v1", "total_steps": 240, "eval_every": 80,
             "params": {"learning_starts": 40, "train_freq": 4, "target_update_interval": 20}},
            120),
    "td3": ({"env": "Pendulum-v1", "total_steps": 240, "eval_every": 100,
             "params": {"learning_starts": 100, "batch_size": 16,
                        "action_noise": {"type": "ornstein_uhlenbeck", "sigma": 0.3},
                        "policy_kwargs": {"net_arch": [32, 32]}}}, 150),
}


@pytest.mark.parametrize("algo", list(RESUME))
def test_resume_is_exact_after_ctrl_c_and_after_a_crash(tmp_path, algo):
    """Stopped by Ctrl-C (checkpoint at the stop) or by a crash (back to the last periodic
    checkpoint) and resumed, every family writes the metrics.csv and summary.json of a run that
    never stopped: SB3 with optimizers, replay buffer and envs mid-episode restored."""
    data, stop_at = RESUME[algo]
    config = validate_config(rl.Config, {"recipe": "rl", "algo": algo, "eval_episodes": 2,
                                         **data}, "test")
    reference = straight_run(rl, config, tmp_path / "straight")
    if algo in ("ppo", "a2c"):
        _assert_on_policy_ctrl_c_resumes_exactly(config, tmp_path / "ctrl_c", stop_at, reference)
    else:
        assert_exact_resume(rl, config, tmp_path / "ctrl_c", stop_at, reference=reference)
    assert_exact_resume(rl, config, tmp_path / "crash", stop_at, crash=True, reference=reference)


def _assert_on_policy_ctrl_c_resumes_exactly(config, root, stop_at, reference):
    """SB3 on-policy: a Ctrl-C mid-rollout stops at once and checkpoints that rollout's start
    (the half-collected rollout is redone on resume), so the stop step may precede `stop_at`."""
    from gmrl.core.config import dump_config
    from gmrl.core.errors import RunInterrupted
    from gmrl.core.rundir import RunDir

    from . import StopAtStep, assert_same_outputs, run_to_end

    run = StopAtStep.create(root, config.recipe, dump_config(config), quiet=True)
    run.stop_at = stop_at
    with pytest.raises(RunInterrupted) as stop:
        rl.run(config, run)
    run.close()
    rollout = config.params.n_steps * config.params.n_envs
    assert stop.value.step % rollout == 0 and stop.value.step > stop_at - rollout
    latest = json.loads((run.checkpoints_dir / "latest.json").read_text())
    assert latest["step"] == stop.value.step
    resumed = RunDir.open_existing(run.path, quiet=True)
    run_to_end(rl, config, resumed)
    assert_same_outputs(resumed.path, reference)


def test_atari_ids_say_what_to_install(tmp_path):
    result, runs = _run(tmp_path, _write(tmp_path, algo="ppo", env="ALE/Pong-v5",
                                         total_steps=100))
    assert result.exit_code == 2
    assert "pip install gymnasium[atari] ale-py" in " ".join(result.output.split())
    assert not runs.exists() or not any(runs.iterdir())


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("params.learning_rate=inf", "params.learning_rate"),
        ("params.learning_starts=500", "must exceed params.learning_starts"),
        ("eval_every=5000", "exceeds the budget"),
    ],
)
def test_bad_values_are_refused_before_a_run_dir_exists(tmp_path, override, expected):
    config = _write(tmp_path, algo="dqn", env="CartPole-v1", total_steps=200)
    result, runs = _run(tmp_path, config, override)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0], result.output
    assert not runs.exists() or not any(runs.iterdir())


@pytest.mark.slow
def test_ppo_through_gmrl_run_solves_cartpole(tmp_path):
    result, runs = _run(tmp_path, Path("configs/rl/cartpole.yaml"))
    assert result.exit_code == 0, result.output
    (run_dir,) = runs.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["final_mean_return"] >= 475
    assert "rollout/ep_rew_mean" in _rows(run_dir)[0]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir))
    events.Reload()
    assert events.Scalars("eval/mean_return")[-1].value >= 475
    assert {"rollout/ep_rew_mean", "train/value_loss"} <= set(events.Tags()["scalars"])


def test_mcts_ctrl_c_mid_episode_resumes_exactly(tmp_path, monkeypatch):
    """Ctrl-C between two env steps of an MCTS episode: the episode so far is saved (its actions
    replayed on resume), and the finished run matches one that never stopped."""
    from gmrl.core.config import dump_config
    from gmrl.core.errors import RunInterrupted
    from gmrl.core.rundir import RunDir
    from gmrl.rl.mcts import MCTSAgent

    from . import assert_same_outputs, run_to_end

    data, _ = RESUME["mcts"]
    config = validate_config(rl.Config, {"recipe": "rl", "algo": "mcts", "eval_episodes": 2,
                                         **data}, "test")
    reference = straight_run(rl, config, tmp_path / "straight")
    run = RunDir.create(tmp_path / "stopped", "rl", dump_config(config), quiet=True)
    act, calls = MCTSAgent.act, []

    def pressing_ctrl_c(agent, obs):
        calls.append(1)
        if len(calls) == 16:  # 4 steps into the second episode (episodes last 12 steps)
            run.stop_requested = True
        return act(agent, obs)

    monkeypatch.setattr(MCTSAgent, "act", pressing_ctrl_c)
    with pytest.raises(RunInterrupted) as stop:
        rl.run(config, run)
    run.close()
    assert stop.value.step == 1  # one episode finished; the second is in the checkpoint
    calls.clear()
    monkeypatch.setattr(MCTSAgent, "act", lambda agent, obs: calls.append(1) or act(agent, obs))
    resumed = RunDir.open_existing(run.path, quiet=True)
    run_to_end(rl, config, resumed)
    assert len(calls) == 8 + 12  # the second episode continued where it stopped, not afresh
    assert_same_outputs(resumed.path, reference)
