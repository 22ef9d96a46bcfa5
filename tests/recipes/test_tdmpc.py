"""The `tdmpc` recipe (world-model agent v2): end to end through the CLI, exact resume, errors."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gmrl.cli import app
from gmrl.core.agent import read_manifest
from gmrl.core.config import RecipeConfig, load_config
from gmrl.recipes import load_recipe, tdmpc
from gmrl.worldmodel.tdmpc import TDMPCAgent, TDMPCConfig

from . import assert_exact_resume

runner = CliRunner()
DEFAULT = "configs/worldmodel/v2.yaml"
TINY = [
    "total_steps=120", "eval_every=60", "eval_episodes=2", "agent.seed_steps=40",
    "agent.hidden=32", "agent.latent_dim=16", "agent.batch_size=32", "agent.samples=16",
    "agent.policy_samples=4", "agent.elites=4", "agent.iterations=2", "agent.bins=21",
    "env.kwargs={max_episode_steps: 50}",
]


def validate_only(path: str, overrides: list[str]) -> RecipeConfig:
    return load_config(Path(path), overrides, lambda name: load_recipe(name).Config)


def _run(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["run", *args, "--runs", str(tmp_path), "--quiet"])
    return result.exit_code, result.output


def test_default_config_is_v2_and_knows_nothing_about_the_task() -> None:
    config = validate_only(DEFAULT, [])
    assert isinstance(config, tdmpc.Config)
    assert config.agent == TDMPCConfig()  # one default per knob: the agent's own
    assert config.target_return is None


def test_v2_quickstart_is_v2_with_the_default_agent() -> None:
    config = validate_only("configs/worldmodel/v2_quickstart.yaml", [])
    assert isinstance(config, tdmpc.Config) and config.agent == TDMPCConfig()


@pytest.mark.parametrize("env_id", ["Pendulum-v1", "Acrobot-v1"])
def test_end_to_end_saves_an_agent_that_loads_and_acts(tmp_path: Path, env_id: str) -> None:
    code, output = _run(tmp_path, DEFAULT, *TINY, f"env.id={env_id}")
    assert code == 0, output
    run_dir = next(tmp_path.glob("tdmpc-*"))
    header = (run_dir / "metrics.csv").read_text().splitlines()[0]
    for column in ("eval/mean_return", "model/termination_recall", "model/reward_mae",
                   "losses/value", "model/termination_false_alarms"):
        assert column in header
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["real_env_steps"] == 120
    assert read_manifest(run_dir / "agent")["agent"] == "tdmpc"
    import gymnasium as gym

    agent = TDMPCAgent.load(run_dir / "agent", env=gym.make(env_id))
    obs, _ = gym.make(env_id).reset(seed=0)
    action, _ = agent.predict(obs)
    assert gym.make(env_id).action_space.contains(action)


def test_resumes_exactly_after_ctrl_c_and_after_a_crash(tmp_path: Path) -> None:
    """Stopped at an evaluation mid-episode and resumed: the episode is replayed exactly."""
    config = validate_only(DEFAULT, [*TINY, "target_return=1000", "total_steps=105",
                                     "eval_every=35"])
    reference = tmp_path / "stop"
    assert assert_exact_resume(tdmpc, config, reference, stop_at_step=70) == 70
    straight = next((reference / "straight").glob("tdmpc-*"))
    assert assert_exact_resume(tdmpc, config, tmp_path / "crash", 105, crash=True,
                               reference=straight) == 105


@pytest.mark.parametrize(("override", "message"), [
    ("env.id=NoSuchEnv-v0", "unknown Gymnasium env 'NoSuchEnv-v0'"),
    ("env.id=FrozenLake-v1", "the latent agent needs a 1-D Box"),
    ("agent.horizon=0", "agent.horizon"),
    ("total_steps=1e18", "total_steps"),
])
def test_bad_input_is_one_line_error(tmp_path: Path, override: str, message: str) -> None:
    code, output = _run(tmp_path, DEFAULT, override)
    assert code == 2 and message in output, output
    assert not list(tmp_path.glob("tdmpc-*"))  # nothing created before the check
