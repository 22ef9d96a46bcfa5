"""The `synthetic` recipe: runs through the CLI, logs the generator's figures, resumes exactly
(real buffer, generator, optimizer and pool restored), and refuses bad settings up front."""

import csv
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from gmrl.cli import app, validate_only
from gmrl.core.config import validate_config
from gmrl.recipes import synthetic

from . import assert_exact_resume, straight_run

runner = CliRunner()
TINY = {
    "recipe": "synthetic", "env": "Pendulum-v1", "total_steps": 160, "eval_every": 80,
    "eval_episodes": 1, "utd": 1, "target_return": -2000,
    "params": {"learning_starts": 40, "batch_size": 32, "policy_kwargs": {"net_arch": [16]}},
    "synthetic": {"min_real": 40, "refit_every": 40, "pool_size": 256, "fidelity_samples": 32,
                  "generator": {"fit_steps": 10, "first_fit_steps": 20, "batch_size": 32,
                                "params": {"hidden": 16, "layers": 1, "timesteps": 8}}},
}


def _config(**changes):
    return validate_config(synthetic.Config, {**TINY, **changes}, "test")


def test_cli_run_logs_refits_and_summarises_the_generator(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(TINY))
    runs = tmp_path / "runs"
    result = runner.invoke(app, ["run", str(path), "--runs", str(runs), "-q"])
    assert result.exit_code == 0, result.output
    (run_dir,) = runs.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["synthetic_refits"] == 4  # at 40, 80, 120, 160 real steps
    assert 0 <= summary["synthetic_classifier_accuracy"] <= 1
    assert summary["steps_to_target"] == 80  # every return beats -2000
    assert summary["time/generator_seconds"] > 0
    with (run_dir / "metrics.csv").open() as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("synthetic/refits")]
    # refit after the 40th, 80th... stored step; logged at the next step (or at the end)
    assert [int(row["step"]) for row in rows] == [41, 81, 121, 160]
    assert (run_dir / "agent.safetensors").is_file()


@pytest.mark.parametrize("crash", [False, True], ids=["ctrl_c", "crash"])
def test_resume_is_exact_after_ctrl_c_and_after_a_crash(tmp_path, crash):
    config = _config()
    reference = straight_run(synthetic, config, tmp_path / "straight")
    assert_exact_resume(synthetic, config, tmp_path / "run", 100, crash=crash,
                        reference=reference)


def test_resume_is_exact_while_the_guard_cuts_the_share(tmp_path):
    """Half the slots held out (40 rows at the refit at step 80, enough for a verdict) and a
    threshold every score beats: the share is cut at steps 80, 120 and 160, and a run stopped
    at 100 resumes from the checkpoint at 80 with the cut share, not the configured one."""
    config = _config(synthetic={**TINY["synthetic"], "fidelity_holdout": 0.5,
                                "guard": {"max_accuracy": 0.5}})
    reference = straight_run(synthetic, config, tmp_path / "straight")
    summary = json.loads((reference / "summary.json").read_text())
    assert summary["synthetic_guard_cuts"] >= 2 and summary["synthetic_share"] < 0.25
    assert_exact_resume(synthetic, config, tmp_path / "run", 100, crash=True, reference=reference)


def test_ratio_zero_is_the_update_matched_ablation():
    params = _config(synthetic={**TINY["synthetic"], "ratio": 0}).sb3_params()
    assert params.gradient_steps == 1 and params.replay_buffer_kwargs["ratio"] == 0


def test_utd_sets_gradient_steps_and_the_buffer_is_installed():
    params = _config(utd=7).sb3_params()
    assert params.gradient_steps == 7 and params.train_freq == 1
    assert params.replay_buffer_class == "synthetic"


@pytest.mark.parametrize(("change", "expected"), [
    ({"params": {"gradient_steps": 4}}, "params.gradient_steps is set by this recipe"),
    ({"algo": "ppo"}, "'sac', 'td3' or 'dqn'"),
    ({"utd": 0}, "utd"),
    ({"synthetic": {"ratio": 2}}, "synthetic.ratio"),
    ({"env": "Taxi-v4", "algo": "dqn"}, "Box observation space"),
])
def test_bad_settings_fail_in_one_line_before_a_run_dir(tmp_path, change, expected):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({**TINY, **change}))
    runs = tmp_path / "runs"
    result = runner.invoke(app, ["run", str(path), "--runs", str(runs), "-q"])
    assert result.exit_code == 2
    assert expected in result.output and not runs.exists()


@pytest.mark.parametrize("path", sorted(Path("configs/synthetic").glob("*.yaml")))
def test_shipped_configs_validate(path):
    config = validate_only(path, [])
    assert config.recipe == "synthetic"
