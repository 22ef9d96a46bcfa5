"""End-to-end: `gmrl run configs/worldmodel/cartpole_pixels.yaml` with a tiny budget."""

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gmrl.cli import app
from gmrl.core.config import load_config
from gmrl.recipes import load_recipe, worldmodel_pixels
from gmrl.worldmodel.latent_model import LatentWorldModel

from . import assert_exact_resume

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "worldmodel" / "cartpole_pixels.yaml"
TINY = [
    "random_episodes=3",
    "iterations=2",
    "episodes_per_iteration=1",
    "max_episode_steps=20",
    "frames.size=[16,32]",
    "model.first_vae_steps=1",
    "model.vae_steps=1",
    "model.first_rnn_steps=4",
    "model.rnn_steps=2",
    "model.hidden=16",
    "model.vae_channels=4",
    "controller.dream_steps=64",
    "controller.num_envs=2",
    "controller.ppo={n_steps: 32, batch_size: 32, n_epochs: 1}",
    "controller.cem={horizon: 3, population: 8, elites: 2, iterations: 1}",
]


@pytest.mark.parametrize("kind", ["ppo", "cem"])
def test_tiny_pixel_run_completes(tmp_path, kind: str) -> None:
    result = CliRunner().invoke(
        app, ["run", str(CONFIG), *TINY, f"controller.kind={kind}", "--runs", str(tmp_path), "-q"]
    )
    assert result.exit_code == 0, result.output
    run_dir = next(tmp_path.iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["real_env_steps"] > 0 and summary["final_return"] >= 1
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    assert [int(r["step"]) for r in rows] == [0, 1, 2]
    assert float(rows[-1]["charts/real_env_steps"]) == summary["real_env_steps"]
    for plot in ("reconstructions.png", "dream_vs_real.png", "return.png"):
        assert (run_dir / "plots" / plot).stat().st_size > 0
    model = LatentWorldModel.load(run_dir / "checkpoints" / "world_model.safetensors")
    assert model.config.hidden == 16 and int(model.fits) == 2


def test_resume_continues_the_loop(tmp_path) -> None:
    runner = CliRunner()
    first = runner.invoke(
        app, ["run", str(CONFIG), *TINY, "iterations=1", "--runs", str(tmp_path), "-q"]
    )
    assert first.exit_code == 0, first.output
    run_dir = next(tmp_path.iterdir())
    again = runner.invoke(app, ["run", "--resume", str(run_dir), "iterations=2", "-q"])
    assert again.exit_code == 0, again.output
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    assert [int(r["step"]) for r in rows] == [0, 1, 2]
    assert float(rows[2]["charts/real_env_steps"]) > float(rows[1]["charts/real_env_steps"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("frames.size=[30,64]", "frames.size"),
        ("model.vae_lr=0", "'model.vae_lr': Input should be greater than 0"),
        ("controller.ppo={learning_rate: .inf}", "bad value inf at ppo.learning_rate: numbers"),
        ("controller.ppo={n_step: 8}", "did you mean 'n_steps'"),
        ("controller.cem={population: 4, elites: 5}", "elites (5) must be <= population (4)"),
    ],
)
def test_bad_input_is_a_one_line_config_error(tmp_path, override: str, message: str) -> None:
    result = CliRunner().invoke(app, ["run", str(CONFIG), override, "--runs", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("kind", ["ppo", "cem"])
def test_pixel_run_resumes_exactly_between_iterations(tmp_path, kind: str) -> None:
    config = load_config(
        CONFIG, [*TINY, f"controller.kind={kind}"], lambda name: load_recipe(name).Config
    )
    assert assert_exact_resume(worldmodel_pixels, config, tmp_path, stop_at_step=1) == 1


def test_pixel_run_resumes_exactly_after_a_crash(tmp_path) -> None:
    """A crash (no Ctrl-C checkpoint) in iteration 2 resumes from iteration 1's checkpoint."""
    config = load_config(CONFIG, TINY, lambda name: load_recipe(name).Config)
    assert assert_exact_resume(worldmodel_pixels, config, tmp_path, 2, crash=True) == 2


@pytest.mark.parametrize("where", ["between_phases", "inside_the_rnn_fit", "inside_ppo"])
def test_pixel_run_resumes_exactly_from_inside_an_iteration(tmp_path, where: str) -> None:
    """Ctrl-C during iteration 2 is honoured between phases or, inside a phase, after the
    update running (the phase is redone on resume); either way the resumed run is exact."""
    from gmrl.core.config import dump_config
    from gmrl.core.errors import RunInterrupted
    from gmrl.core.rundir import RunDir
    from gmrl.worldmodel.latent_agent import LatentAgent

    config = load_config(CONFIG, TINY, lambda name: load_recipe(name).Config)
    straight = RunDir.create(tmp_path / "a", config.recipe, dump_config(config), quiet=True)
    whole = worldmodel_pixels.run(config, straight)
    straight.close()

    part = RunDir.create(tmp_path / "b", config.recipe, dump_config(config), quiet=True)
    patched = {"between_phases": (LatentAgent, "_fit", "after"),
               "inside_the_rnn_fit": (LatentWorldModel, "fit_rnn", "before"),
               "inside_ppo": (LatentAgent, "_controller", "before")}[where]
    owner, name, when = patched
    original = getattr(owner, name)
    calls = {"n": 0}

    def press_ctrl_c_in_iteration_2(*args, **kwargs):
        calls["n"] += 1
        if when == "before" and calls["n"] == 2:
            part.stop_requested = True
        result = original(*args, **kwargs)
        if when == "after" and calls["n"] == 2:
            part.stop_requested = True
        return result

    setattr(owner, name, press_ctrl_c_in_iteration_2)
    try:
        with pytest.raises(RunInterrupted) as stopped:
            worldmodel_pixels.run(config, part)
    finally:
        setattr(owner, name, original)
        part.close()
    assert stopped.value.step == 1  # iteration 2 had begun: the checkpoint holds its progress
    resumed = RunDir.open_existing(part.path, quiet=True)
    assert worldmodel_pixels.run(config, resumed) == whole
    resumed.close()
    assert (resumed.path / "metrics.csv").read_bytes() == (
        straight.path / "metrics.csv"
    ).read_bytes()
