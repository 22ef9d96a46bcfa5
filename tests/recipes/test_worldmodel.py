"""The `worldmodel` recipe through the CLI: one iteration end to end, resume, own env, errors."""

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gmrl.cli import app
from gmrl.core.config import RecipeConfig, load_config
from gmrl.recipes import load_recipe

runner = CliRunner()


def validate_only(path: Path, overrides: list[str]) -> RecipeConfig:
    """Load and validate a config the way `gmrl run` does, without running it."""
    return load_config(path, overrides, lambda name: load_recipe(name).Config)
CARTPOLE = "configs/worldmodel/cartpole.yaml"
# one model fit, one short planning phase, one 2-episode evaluation
TINY = [
    "total_steps=150",
    "initial_steps=100",
    "eval_every=150",
    "eval_episodes=2",
    "planner.population=20",
    "planner.horizon=5",
    "planner.iterations=1",
    "model.hidden=32",
    "model.max_epochs=3",
    "target_return=null",
]


def _run(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["run", *args, "--runs", str(tmp_path), "--quiet"])
    return result.exit_code, result.output


@pytest.mark.parametrize("path", sorted(Path("configs/worldmodel").glob("*.yaml")))
def test_configs_validate(path: Path) -> None:
    if "pixels" in path.name:
        pytest.skip("the pixel recipe has its own tests")
    assert validate_only(path, []).recipe == "worldmodel"


def test_quickstart_is_the_worldmodel_agent() -> None:
    assert validate_only(Path("configs/quickstart.yaml"), []).recipe == "worldmodel"


def test_one_iteration_end_to_end_then_resume(tmp_path: Path) -> None:
    start = time.perf_counter()
    code, output = _run(tmp_path, CARTPOLE, *TINY)
    assert code == 0, output
    assert time.perf_counter() - start < 60
    run_dir = next(tmp_path.glob("worldmodel-*"))
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["real_env_steps"] == 150 and summary["final_eval_return"] > 0
    assert (run_dir / "plots" / "learning_curve.png").is_file()
    assert list((run_dir / "checkpoints").glob("state-*.safetensors"))
    header = (run_dir / "metrics.csv").read_text().splitlines()[0]
    assert "eval/mean_return" in header and "model/val_next_obs_mse" in header
    result = runner.invoke(app, ["run", "--resume", str(run_dir), "total_steps=300", "--quiet"])
    assert result.exit_code == 0, result.output
    assert json.loads((run_dir / "summary.json").read_text())["real_env_steps"] == 300


def test_own_env_by_import_path_with_learned_reward(tmp_path: Path) -> None:
    code, output = _run(
        tmp_path,
        CARTPOLE,
        *TINY,
        "env.id=gymnasium.envs.classic_control.cartpole:CartPoleEnv",
        "env.max_episode_steps=50",
        "model.reward=learned",
        "model.termination=learned",
    )
    assert code == 0, output


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("env.id=CartPoel-v1", "did you mean 'CartPole-v1'"),
        ("env.id=FrozenLake-v1", "Box (vector) observation"),
        ("env.id=Acrobot-v1", "no shaped reward function"),
        ("env.id=no_such_module:Env", "cannot import module"),
        ("model.reward=bogus", "use known, learned"),
        ("mode=dream", "dream.algo=sac needs Box actions"),
    ],
)
def test_bad_input_is_one_line_error(tmp_path: Path, override: str, message: str) -> None:
    code, output = _run(tmp_path, CARTPOLE, override)
    assert code == 2 and message in output, output
    assert not list(tmp_path.glob("worldmodel-*"))  # nothing created before the check


@pytest.mark.parametrize(
    "overrides",
    [
        [
            CARTPOLE,
            *TINY,
            "planner.kind=mcts",
            "planner.mcts={n_simulations: 4, max_depth: 4, rollouts_per_leaf: 1}",
            "env.kwargs={max_episode_steps: 20}",
        ],
        [
            "configs/worldmodel/pendulum.yaml",
            *TINY,
            "mode=dream",
            "dream.steps=64",
            "dream.envs=8",
            "dream.kwargs={learning_starts: 16, batch_size: 16}",
            "env.kwargs={max_episode_steps: 30}",
        ],
    ],
    ids=["mcts-planner", "sac-in-the-dream"],
)
def test_other_planners_and_dream_mode_run(tmp_path: Path, overrides: list[str]) -> None:
    code, output = _run(tmp_path, *overrides)
    assert code == 0, output


def test_gmrl_bench_worldmodel_runs_the_side_by_side_benchmark() -> None:
    result = runner.invoke(app, ["bench", "worldmodel", "--envs", "NoSuchEnv-v0"])
    assert result.exit_code != 0
    assert "unknown env 'NoSuchEnv-v0' (have: CartPole-v1, Pendulum-v1)" in str(result.exception)
