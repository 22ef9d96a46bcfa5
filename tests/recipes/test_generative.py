"""Recipe `generative` through the CLI: run directory contents, determinism, Ctrl-C and resume."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gmrl.cli import app

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "generative" / "moons_flow.yaml"
TINY = [
    "n_train=512",
    "n_test=256",
    "eval_samples=256",
    "batch_size=128",
    "model.params={hidden: 16, layers: 1, coupling_layers: 2}",
]


def only_run(root: Path) -> Path:
    (run_dir,) = list(root.iterdir())
    return run_dir


def test_run_directory_has_every_artifact(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["run", str(CONFIG), *TINY, "epochs=4", "eval_every=2", "--runs", str(tmp_path), "-q"]
    )
    assert result.exit_code == 0, result.output
    run_dir = only_run(tmp_path)
    assert run_dir.name.startswith("generative-")
    for name in (
        "config.yaml",
        "metrics.csv",
        "summary.json",
        "plots/samples.png",
        "plots/loss.png",
        "checkpoints/model.safetensors",
        "checkpoints/latest.json",
    ):
        assert (run_dir / name).is_file(), name
    assert list(run_dir.glob("events.out.tfevents*"))
    assert "n_train: 512" in (run_dir / "config.yaml").read_text()


def test_same_seed_gives_identical_metrics(tmp_path: Path) -> None:
    outputs = []
    for attempt in ("a", "b"):
        root = tmp_path / attempt
        result = runner.invoke(
            app, ["run", str(CONFIG), *TINY, "epochs=3", "eval_every=3", "--runs", str(root), "-q"]
        )
        assert result.exit_code == 0, result.output
        outputs.append((only_run(root) / "metrics.csv").read_text())
    assert outputs[0] == outputs[1]
    result = runner.invoke(
        app,
        [
            "run",
            str(CONFIG),
            *TINY,
            "epochs=3",
            "eval_every=3",
            "seed=1",
            "--runs",
            str(tmp_path / "c"),
            "-q",
        ],
    )
    assert (only_run(tmp_path / "c") / "metrics.csv").read_text() != outputs[0]


def gmrl_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "gmrl.cli", "run", *args]


def test_sigint_then_resume_matches_uninterrupted_run(tmp_path: Path) -> None:
    args = [str(CONFIG), *TINY, "n_train=2048", "batch_size=32", "epochs=20", "eval_every=5", "-q"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    straight = subprocess.run(
        gmrl_command(*args, "--runs", str(tmp_path / "straight")),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert straight.returncode == 0, straight.stderr

    interrupted_root = tmp_path / "interrupted"
    process = subprocess.Popen(
        gmrl_command(*args, "--runs", str(interrupted_root)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.time() + 240
    metrics = None
    while time.time() < deadline:
        found = list(interrupted_root.glob("*/metrics.csv"))
        if found and len(found[0].read_text().splitlines()) >= 4:  # header + 3 epochs
            metrics = found[0]
            break
        time.sleep(0.05)
    assert metrics is not None, "the run never logged"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "--resume" in stderr
    run_dir = metrics.parent
    assert not (run_dir / "summary.json").exists()

    resumed = subprocess.run(
        gmrl_command("--resume", str(run_dir), "-q"),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    reference = only_run(tmp_path / "straight")
    assert (run_dir / "summary.json").read_text() == (reference / "summary.json").read_text()
    assert (run_dir / "metrics.csv").read_text() == (reference / "metrics.csv").read_text()


def _config(*overrides: str):
    from gmrl.core.config import apply_overrides, read_yaml_mapping, validate_config
    from gmrl.recipes.generative import Config

    data = apply_overrides(read_yaml_mapping(CONFIG), [*TINY, *overrides])
    return validate_config(Config, data, str(CONFIG))


@pytest.mark.parametrize(("stop_at", "crash"), [(3, False), (4, False), (5, True)],
                         ids=["ctrl-c-off-schedule", "ctrl-c-at-a-checkpoint", "crash"])
def test_interrupted_and_resumed_run_is_exact(tmp_path: Path, stop_at: int, crash: bool) -> None:
    from gmrl.recipes import generative

    from . import assert_exact_resume

    config = _config("epochs=6", "eval_every=2")
    assert assert_exact_resume(generative, config, tmp_path, stop_at, crash=crash) == stop_at


@pytest.mark.parametrize("bad", ["model.params.lr=inf", "model.params.lr=.nan",
                                 "model.params.lr=0", "model.params.lr=fast"])
def test_unusable_learning_rates_are_refused_before_a_run_directory(
    tmp_path: Path, bad: str
) -> None:
    result = runner.invoke(app, ["run", str(CONFIG), *TINY, bad, "--runs", str(tmp_path), "-q"])
    assert result.exit_code == 2, result.output
    assert "params.lr" in result.output and len(result.output.strip().splitlines()) == 1
    assert not tmp_path.exists() or not list(tmp_path.iterdir())
