"""The `worldmodel` recipe through the CLI: one iteration end to end, resume, own env, errors."""

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gmrl.cli import app
from gmrl.core.config import RecipeConfig, load_config
from gmrl.recipes import load_recipe, worldmodel
from gmrl.worldmodel.agent import AgentConfig
from gmrl.worldmodel.ensemble import EnsembleConfig
from gmrl.worldmodel.planners import CEMConfig

from . import assert_exact_resume

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
    if "pixels" in path.name or path.name.startswith("v2"):
        pytest.skip("the pixel recipe and v2 (recipe tdmpc) have their own tests")
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
        ("total_steps=100", "total_steps (100) must exceed initial_steps (100)"),
        ("eval_every=50", "eval_every (50) must exceed initial_steps (100)"),
        ("planner.elites=500", "planner: elites (500) must be <= population (100)"),
        ("model.lr=inf", "'model.lr': Input should be a finite number"),
        ("model.lr=0", "'model.lr': Input should be greater than 0"),
        ("dream.params={learning_rat: 0.1}", "did you mean 'learning_rate'"),
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
            "dream.params={learning_starts: 16, batch_size: 16}",
            "env.kwargs={max_episode_steps: 30}",
        ],
    ],
    ids=["mcts-planner", "sac-in-the-dream"],
)
def test_other_planners_and_dream_mode_run(tmp_path: Path, overrides: list[str]) -> None:
    code, output = _run(tmp_path, *overrides)
    assert code == 0, output


def test_gmrl_bench_worldmodel_runs_the_side_by_side_benchmark() -> None:
    result = runner.invoke(app, ["bench", "worldmodel", "--tasks", "NoSuchEnv-v0"])
    assert result.exit_code == 2
    assert ("benchmark 'worldmodel_vs_sb3' has no task 'NoSuchEnv-v0' (have: CartPole-v1, "
            "Pendulum-v1)") in result.output


def test_component_defaults_are_the_configs_defaults() -> None:
    """One default per knob: the recipe's sections are the components' configs."""
    config = worldmodel.Config()
    assert config.planner.cem() == CEMConfig()
    assert (CEMConfig().horizon, CEMConfig().population, CEMConfig().elites) == (15, 100, 10)
    assert isinstance(config.model, EnsembleConfig) and isinstance(config, AgentConfig)
    shipped = validate_only(Path(CARTPOLE), [])
    assert shipped.planner.cem() == CEMConfig()  # the shipped CartPole planner is the default


def _tiny(*extra: str) -> worldmodel.Config:
    config = validate_only(Path(CARTPOLE), [
        *TINY, "total_steps=230", "eval_every=115", "env.kwargs={max_episode_steps: 60}", *extra
    ])
    assert isinstance(config, worldmodel.Config)
    return config


def test_mpc_run_resumes_exactly_after_ctrl_c_and_after_a_crash(tmp_path: Path) -> None:
    config = _tiny("target_return=1000")  # never reached: steps_to_target is null, not NaN
    assert assert_exact_resume(worldmodel, config, tmp_path / "stop", stop_at_step=115) == 115
    assert assert_exact_resume(worldmodel, config, tmp_path / "crash", 230, crash=True) == 230
    summary = json.loads(next((tmp_path / "stop").glob("straight/*/summary.json")).read_text())
    assert summary["steps_to_target"] is None
    assert summary["model_val_next_obs_mse"] is not None and summary["real_env_steps"] == 230


def test_mpc_ctrl_c_between_evaluations_is_honoured_and_resumes_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C pressed at real step 121 stops at 125 (the chunk's end), not at the next
    evaluation (230); resuming from there still writes the uninterrupted run's metrics."""
    from gmrl.core.config import dump_config
    from gmrl.core.errors import RunInterrupted
    from gmrl.core.rundir import RunDir
    from gmrl.worldmodel.agent import ModelBasedAgent

    config = _tiny()
    straight = RunDir.create(tmp_path / "a", "worldmodel", dump_config(config), quiet=True)
    worldmodel.run(config, straight)
    straight.close()

    part = RunDir.create(tmp_path / "b", "worldmodel", dump_config(config), quiet=True)
    train = ModelBasedAgent.train

    def train_and_press_ctrl_c(agent: ModelBasedAgent, steps: int) -> None:
        for _ in range(steps):
            train(agent, 1)
            if agent.real_steps == 121:
                part.stop_requested = True

    monkeypatch.setattr(ModelBasedAgent, "train", train_and_press_ctrl_c)
    with pytest.raises(RunInterrupted) as stopped:
        worldmodel.run(config, part)
    part.close()
    monkeypatch.undo()
    assert stopped.value.step == 115 + worldmodel.STEP_CHUNK
    resumed = RunDir.open_existing(part.path, quiet=True)
    worldmodel.run(config, resumed)
    resumed.close()
    assert (resumed.path / "metrics.csv").read_bytes() == (
        straight.path / "metrics.csv"
    ).read_bytes()


def test_dream_run_resumes_exactly(tmp_path: Path) -> None:
    config = validate_only(Path("configs/worldmodel/pendulum.yaml"), [
        *TINY, "total_steps=230", "eval_every=115", "mode=dream", "dream.steps=64",
        "dream.envs=8", "dream.params={learning_starts: 16, batch_size: 16}",
        "env.kwargs={max_episode_steps: 30}", "early_fit_every=null",
    ])
    assert assert_exact_resume(worldmodel, config, tmp_path, stop_at_step=115) == 115


def test_resuming_a_finished_run_rewrites_the_same_summary(tmp_path: Path) -> None:
    """Stopped at its last checkpoint and resumed: the last fit's figures come back (not NaN)."""
    code, output = _run(tmp_path, CARTPOLE, *TINY, "env.kwargs={max_episode_steps: 60}")
    assert code == 0, output
    run_dir = next(tmp_path.glob("worldmodel-*"))
    before = (run_dir / "summary.json").read_text()
    result = runner.invoke(app, ["run", "--resume", str(run_dir), "--quiet"])
    assert result.exit_code == 0, result.output
    assert (run_dir / "summary.json").read_text() == before
    assert json.loads(before)["model_val_next_obs_mse"] > 0


DEFAULT = "configs/worldmodel/default.yaml"
TINY_DEFAULT = [
    *TINY, "value.updates=20", "early_fit_every=null", "env.kwargs={max_episode_steps: 60}",
]


@pytest.mark.parametrize(
    "env_id",
    ["Acrobot-v1", "MountainCarContinuous-v0",
     "gymnasium.envs.classic_control.pendulum:PendulumEnv"],
)
def test_default_config_runs_any_env_with_everything_learned(tmp_path: Path, env_id: str) -> None:
    extra = ["env.kwargs={}", "env.max_episode_steps=60"] if ":" in env_id else []
    code, output = _run(tmp_path, DEFAULT, *TINY_DEFAULT, f"env.id={env_id}", *extra)
    assert code == 0, output
    run_dir = next(tmp_path.glob("worldmodel-*"))
    header = (run_dir / "metrics.csv").read_text().splitlines()[0]
    assert "model/value_mean" in header and "model/termination_hits" in header


def test_default_config_knows_nothing_about_the_task() -> None:
    config = validate_only(Path(DEFAULT), [])
    assert isinstance(config, worldmodel.Config)
    assert (config.model.reward, config.model.termination) == ("learned", "learned")
    assert config.value.enabled and config.planner.explore > 0 and config.target_return is None


def test_default_config_run_resumes_exactly(tmp_path: Path) -> None:
    config = validate_only(Path(DEFAULT), [*TINY_DEFAULT, "total_steps=230", "eval_every=115"])
    assert isinstance(config, worldmodel.Config)
    assert assert_exact_resume(worldmodel, config, tmp_path / "stop", stop_at_step=115) == 115
