"""A user's env that goes wrong mid-run (issue 24, item 1): NaN or infinite values, a wrong
shape, an exception. Each ends the run with one line naming the env, the step, the field and the
value, exit code 1, the full traceback in the run's error.log, a checkpoint of what was learned
and the `--resume` command; `on_env_error: reset` cuts such episodes short and counts them."""

import json
from pathlib import Path

import numpy as np
import pytest
from gymnasium import spaces
from typer.testing import CliRunner, Result

from gmrl.cli import app
from gmrl.core.errors import EnvStepError
from gmrl.rl.envs import make_env
from gmrl.rl.guard import env_error_policy, reward_problem, value_problem

runner = CliRunner()
PPO = """recipe: rl
algo: ppo
env: faulty:Flaky
total_steps: 256
eval_every: 128
eval_episodes: 1
params: {n_envs: 1, n_steps: 32, batch_size: 32, n_epochs: 1}
"""
REINFORCE = """recipe: rl
algo: reinforce
env: faulty:Flaky
total_steps: 256
eval_every: 64
eval_episodes: 1
params: {num_envs: 1}
"""
SAC = """recipe: rl
algo: sac
env: faulty:Flaky
env_kwargs: {continuous: true}
total_steps: 96
eval_every: 32
eval_episodes: 1
params: {learning_starts: 16, batch_size: 16, buffer_size: 1000}
"""
WORLDMODEL = """recipe: worldmodel
env: {id: 'faulty:Flaky'}
model: {ensemble_size: 2, hidden: 16, max_epochs: 2, reward: learned, termination: learned}
planner: {population: 10, elites: 2, horizon: 3, iterations: 1}
value: {enabled: false}
initial_steps: 40
fit_every: 40
early_fit_until: 0
total_steps: 120
eval_every: 60
eval_episodes: 1
"""


# ----------------------------------------------------------------------------- the checks
@pytest.mark.parametrize(("value", "phrase"), [
    (np.array([0.0, np.nan], dtype=np.float32), "obs is not finite: obs[1] = nan"),
    (np.array([np.inf, 0.0]), "obs is not finite: obs[0] = inf"),
    (np.zeros(3, dtype=np.float32), "obs has shape (3,), but the space is Box(shape=(2,))"),
    (np.array([0.0, 11.0]), "above the space's high bound: obs[1] = 11.0"),
    (np.array(["a", "b"]), "dtype <U1, not numbers"),
])
def test_a_bad_observation_is_named(value: np.ndarray, phrase: str) -> None:
    space = spaces.Box(-10.0, 10.0, shape=(2,), dtype=np.float32)
    assert phrase in (value_problem(value, space, "obs") or "")


def test_a_good_observation_passes_even_as_float64() -> None:
    space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
    assert value_problem(np.array([1.0, -1.0]), space, "obs") is None
    assert value_problem(3, spaces.Discrete(4), "obs") is None
    assert "outside Discrete(4)" in (value_problem(4, spaces.Discrete(4), "obs") or "")


@pytest.mark.parametrize(("reward", "phrase"), [
    (float("nan"), "reward = nan is not finite"), (np.float32("inf"), "reward = inf"),
    ("1", "is not a real number"), (np.ones(2), "is not a real number"), (None, "not a real"),
])
def test_a_bad_reward_is_named(reward: object, phrase: str) -> None:
    assert phrase in (reward_problem(reward) or "")
    assert reward_problem(np.float64(-3.5)) is None and reward_problem(2) is None


@pytest.mark.parametrize(("how", "phrase"), [
    ("nan", "returned a bad value at step 3 of episode 1: obs is not finite: obs[1] = nan"),
    ("reward", "at step 3 of episode 1: reward = inf is not finite"),
    ("shape", "obs has shape (3,), but the space is Box(shape=(2,))"),
    ("bounds", "obs is above the space's high bound: obs[0] = 50.0"),
    ("raise", "raised RuntimeError at step 3 of episode 1: the simulator lost its connection"),
])
def test_every_fault_is_one_line_naming_env_step_field_value(
    project: Path, how: str, phrase: str
) -> None:
    env = make_env("faulty:Flaky", check=False, fail_at=3, how=how)
    env.reset(seed=0)
    env.step(1)
    env.step(1)
    with pytest.raises(EnvStepError) as caught:
        env.step(1)
    message = str(caught.value)
    assert message.startswith("env 'faulty:Flaky' ") and phrase in message, message
    assert "\n" not in message and "on_env_error: reset" in message


def test_an_action_outside_the_space_is_the_agents_fault(project: Path) -> None:
    env = make_env("faulty:Flaky")
    env.reset(seed=0)
    with pytest.raises(EnvStepError, match=r"bad action at step 1 of episode 1: action = 2 is "
                                           r"outside Discrete\(2\); this is a bug in the agent"):
        env.step(2)


def test_reset_mode_cuts_episodes_short_counts_them_and_stops_after_the_limit(
    project: Path,
) -> None:
    with env_error_policy("reset", max_errors=1) as policy:
        env = make_env("faulty:Flaky", check=False, fail_at=2, how="raise")
        env.reset(seed=0)
        first, _, _, _, _ = env.step(1)
        obs, reward, terminated, truncated, info = env.step(1)  # fails: cut short
        assert (terminated, truncated, reward) == (False, True, 0.0)
        np.testing.assert_array_equal(obs, first)  # the last good observation
        assert "RuntimeError" in info["gmrl_env_error"] and policy.count == 1
        env.unwrapped.fail_at = 3  # type: ignore[attr-defined]
        env.reset()
        with pytest.raises(EnvStepError, match=r"1 episodes were already cut short "
                                               r"\(max_env_errors: 1\)"):
            env.step(1)


# ----------------------------------------------------------------------------- whole runs
def _run(project: Path, config: str, *args: str) -> tuple[Result, Path | None]:
    (project / "run.yaml").write_text(config)
    result = runner.invoke(app, ["run", "run.yaml", *args, "--runs", "runs", "-q"])
    runs = sorted((project / "runs").iterdir()) if (project / "runs").is_dir() else []
    return result, runs[0] if runs else None


def _assert_one_line_with_resume(result: Result, run: Path | None, phrase: str) -> Path:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.stderr
    assert lines[0].startswith("error: env 'faulty:Flaky' ") and phrase in lines[0], lines[0]
    assert run is not None and f"continue with: gmrl run --resume {Path('runs') / run.name}" \
        in lines[0]
    assert "Traceback" in (run / "error.log").read_text()
    assert f"full traceback: {Path('runs') / run.name / 'error.log'}" in lines[0]
    assert json.loads((run / "checkpoints" / "latest.json").read_text())["step"] >= 0
    return run


@pytest.mark.parametrize(("config", "how", "fail_at"), [
    (PPO, "nan", 100), (REINFORCE, "raise", 150), (SAC, "reward", 60), (WORLDMODEL, "shape", 80),
])
def test_a_fault_mid_run_saves_what_was_learned_and_resumes_once_fixed(
    project: Path, config: str, how: str, fail_at: int
) -> None:
    """PPO (its 99-line traceback in issue 24), REINFORCE, SAC, the world-model agent (it used to
    train on NaN and exit 0): one line, a checkpoint, and the run continues once the env works."""
    key = "env.kwargs" if config is WORLDMODEL else "env_kwargs"
    result, run = _run(project, config, f"{key}.how={how}", f"{key}.fail_at={fail_at}")
    run = _assert_one_line_with_resume(result, run, "at step ")
    resumed = runner.invoke(app, ["run", "--resume", str(run), f"{key}.fail_at=1000000000", "-q"])
    assert resumed.exit_code == 0, resumed.output
    assert (run / "summary.json").is_file()


def test_reset_mode_finishes_the_run_and_counts_the_episodes_cut_short(project: Path) -> None:
    result, run = _run(project, REINFORCE, "env_kwargs.how=raise", "env_kwargs.fail_at=40",
                       "on_env_error=reset", "max_env_errors=50")
    assert result.exit_code == 0, result.output
    assert run is not None
    cut = [line for line in result.stderr.splitlines() if "episode cut short" in line]
    assert cut and cut[0].endswith("(1 of at most 50, on_env_error: reset)")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["env_errors_reset"] == len(cut)  # training and evaluation copies alike
