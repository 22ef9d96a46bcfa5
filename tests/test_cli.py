"""The command line: version, listing, bad input refused with one line and exit 2, and run
safety (lock, resume overrides, OS errors) on a toy recipe."""

import errno
import types
from pathlib import Path
from typing import Literal

import pytest
import torch
from typer.testing import CliRunner, Result

import gmrl
from gmrl import cli
from gmrl.cli import app
from gmrl.core import checkpoint as checkpoint_module
from gmrl.core.config import RecipeConfig
from gmrl.core.loop import TrainingLoop
from gmrl.core.rundir import RunDir

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and gmrl.__version__ in result.output


def test_list_shows_recipes_models_algorithms() -> None:
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0
    for name in ("generative", "flow", "diffusion", "q_learning", "ppo"):
        assert name in result.output
    import gmrl

    for name, path in gmrl.AGENT_CLASSES.items():  # every registered agent, from the registry
        assert name in result.output and path.rpartition(":")[2] in result.output


def test_help_has_examples() -> None:
    result = runner.invoke(app, ["run", "--help"])
    assert result.exit_code == 0 and "Examples" in result.output


@pytest.mark.parametrize(
    ("text", "args", "expected"),
    [
        ("recipe: generative\nepoch: 3\n", [], "did you mean 'epochs'"),
        ("recipe: generative\n", ["model.nme=vae"], "did you mean 'model.name'"),
        ("recipe: generative\nepochs: lots\n", [], "key 'epochs'"),
        ("recipe: generative\nepochs: [1\n", [], "malformed YAML"),
        ("recipe: generatve\n", [], "did you mean 'generative'"),
        ("recipe: generative\nmodel: {name: nosuch}\n", [], "unknown generative model 'nosuch'"),
        (
            "recipe: generative\nmodel: {name: flow, params: {bogus: 1}}\n",
            [],
            "bad parameters for model 'flow'",
        ),
    ],
)
def test_bad_config_exits_2_with_one_line(
    tmp_path: Path, text: str, args: list[str], expected: str
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    runs = tmp_path / "runs"
    result = runner.invoke(app, ["run", str(config), *args, "--runs", str(runs), "--quiet"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert expected in lines[0]
    assert not runs.exists(), "no run directory may be created for a bad config"


def test_missing_config_file(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["run", str(tmp_path / "nope.yaml"), "--runs", str(tmp_path / "runs")]
    )
    assert result.exit_code == 2 and "not found" in result.output
    assert not (tmp_path / "runs").exists()


def test_resume_of_non_run_directory(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--resume", str(tmp_path)])
    assert result.exit_code == 2 and "not a gmrl run directory" in result.output


# ----------------------------------------------------------------------------- run safety
# A toy recipe on the shared TrainingLoop, so these tests do not depend on any real recipe.


class ToyConfig(RecipeConfig):
    recipe: Literal["toy"] = "toy"
    steps: int = 4
    eval_every: int = 2
    hidden: int = 3


def _toy_run(config: ToyConfig, run: RunDir) -> dict[str, float]:
    weights = torch.zeros(config.hidden)
    loop = TrainingLoop(run, total=config.steps, description="toy", eval_every=config.eval_every,
                        state=lambda: {"w": weights.clone()},
                        restore=lambda s: weights.copy_(s["w"]))
    start = loop.resume()
    with loop:
        for step in range(start + 1, config.steps + 1):
            weights += 1.0
            loop.end_step(step, {"w": float(weights.sum())})
    return {"w": float(weights.sum()), "steps_to_target": float("nan")}


TOY = types.SimpleNamespace(Config=ToyConfig, run=_toy_run, SUMMARY="toy")


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Route recipe 'toy' to the toy recipe; returns a config file for it."""
    real = cli.load_recipe
    monkeypatch.setattr(cli, "load_recipe", lambda name: TOY if name == "toy" else real(name))
    config = tmp_path / "toy.yaml"
    config.write_text("recipe: toy\nsteps: 4\n")
    return config


def _one_error_line(result: Result) -> str:
    output = result.output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), output
    assert "Traceback" not in output
    return lines[0]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.startswith("events.")}


def _toy_run_dir(toy: Path, tmp_path: Path, *args: str) -> Path:
    result = runner.invoke(app, ["run", str(toy), *args, "--runs", str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 0, result.output
    (path,) = (tmp_path / "runs").iterdir()
    return path


def test_toy_run_writes_strict_summary(toy: Path, tmp_path: Path) -> None:
    path = _toy_run_dir(toy, tmp_path)
    text = (path / "summary.json").read_text()
    assert '"steps_to_target": null' in text and "NaN" not in text


def test_second_resume_of_a_locked_run_is_refused(toy: Path, tmp_path: Path) -> None:
    path = _toy_run_dir(toy, tmp_path, "steps=2")
    before = _snapshot(path)
    holder = RunDir.open_existing(path, quiet=True)  # another process resuming it
    try:
        result = runner.invoke(app, ["run", "--resume", str(path), "steps=4", "-q"])
    finally:
        holder.close()
    assert result.exit_code == 2
    assert "in use by another gmrl process" in _one_error_line(result)
    assert _snapshot(path) == before


def test_resume_overrides_are_recorded(toy: Path, tmp_path: Path) -> None:
    path = _toy_run_dir(toy, tmp_path, "steps=2")
    result = runner.invoke(app, ["run", "--resume", str(path), "steps=4", "-q"])
    assert result.exit_code == 0, result.output
    assert "steps: 4" in (path / "config.yaml").read_text()
    assert [line.split(",")[0] for line in (path / "metrics.csv").read_text().split()[1:]] == [
        "1", "2", "3", "4"
    ]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("hidden=5", "does not fit"),  # changes the architecture: the restore fails
        ("recipe=generative", "cannot change the recipe"),
        ("steps=lots", "key 'steps'"),
        ("stepz=4", "did you mean 'steps'"),
    ],
)
def test_resume_override_refused_leaves_run_unchanged(
    toy: Path, tmp_path: Path, override: str, expected: str
) -> None:
    path = _toy_run_dir(toy, tmp_path, "steps=2")
    before = _snapshot(path)
    result = runner.invoke(app, ["run", "--resume", str(path), override, "-q"])
    assert result.exit_code == 2
    assert expected in _one_error_line(result)
    assert _snapshot(path) == before


def test_resume_of_another_recipes_checkpoints(toy: Path, tmp_path: Path) -> None:
    path = _toy_run_dir(toy, tmp_path, "steps=2")
    foreign = RunDir(path, quiet=True, recipe="rl")
    foreign.save_checkpoint(2, {"agent": torch.ones(1)})
    foreign.close()
    result = runner.invoke(app, ["run", "--resume", str(path), "-q"])
    assert result.exit_code == 2
    assert "written by recipe 'rl'" in _one_error_line(result)


def test_runs_pointing_at_a_file(toy: Path, tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_text("x")
    result = runner.invoke(app, ["run", str(toy), "--runs", str(file), "-q"])
    assert result.exit_code == 2 and "is a file, not a folder" in _one_error_line(result)
    assert file.read_text() == "x"


def test_disk_full_mid_run_is_one_line_and_keeps_the_checkpoint(
    toy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = checkpoint_module.os.replace
    calls = {"checkpoints": 0}

    def replace(src: str, dst: str) -> None:
        if str(dst).endswith(".safetensors"):
            calls["checkpoints"] += 1
            if calls["checkpoints"] == 2:  # the second checkpoint (step 4) hits a full disk
                raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(checkpoint_module.os, "replace", replace)
    result = runner.invoke(app, ["run", str(toy), "--runs", str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert "disk is full" in line and "--resume" in line
    monkeypatch.setattr(checkpoint_module.os, "replace", real_replace)  # space freed
    (path,) = (tmp_path / "runs").iterdir()
    assert not list(path.rglob(".*.tmp"))
    assert not (path / "summary.json").exists()
    resumed = runner.invoke(app, ["run", "--resume", str(path), "-q"])
    assert resumed.exit_code == 0, resumed.output
    assert '"w": 12.0' in (path / "summary.json").read_text()  # 3 weights x 4 steps


def test_directory_as_config_says_so(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", str(tmp_path), "--runs", str(tmp_path / "runs")])
    assert result.exit_code == 2 and "is a directory" in _one_error_line(result)


# ----------------------------------------------------------------------------- help examples
REPO = Path(__file__).resolve().parents[1]
TINY_GENERATIVE = ["n_train=64", "n_test=64", "eval_samples=64", "batch_size=64"]


def _help_examples(*command: str) -> list[list[str]]:
    """The `gmrl ...` example lines of a help page, as argument lists (comments dropped)."""
    output = runner.invoke(app, [*command, "--help"], terminal_width=200).output
    lines = [line.strip() for line in output.splitlines()]
    return [line.split("#")[0].split()[1:] for line in lines if line.startswith("gmrl ")]


def test_every_help_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each example in `gmrl --help`, `gmrl run --help`, `gmrl bench --help` and `gmrl music
    generate --help` works as shown: generative runs for real (on tiny data), a resume resumes
    the run just made, other recipes are validated with --check (a full run takes minutes),
    benchmarks and music commands parse their arguments."""
    monkeypatch.chdir(REPO)
    monkeypatch.setattr("sys.argv", ["gmrl"])
    examples = _help_examples() + _help_examples("run") + _help_examples("bench")
    examples += _help_examples("music", "generate")
    assert len(examples) >= 9, examples
    runs = tmp_path / "runs"
    made: list[Path] = []
    for args in sorted(examples, key=lambda a: "--resume" in a):  # resumes after the runs
        if args[0] == "run":
            args = [*args, "--runs", str(runs), "-q"]
            if "--resume" in args:
                assert made, "a resume example needs a run made by an earlier example"
                args[args.index("--resume") + 1] = str(made[-1])
            elif "generative" in " ".join(args):
                args += TINY_GENERATIVE
            elif "--check" not in args:
                args.append("--check")
        elif args[0] != "list":  # bench (and later sub-apps): parse the arguments only
            args = [*args, "--help"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, f"gmrl {' '.join(args)}\n{result.output}"
        if runs.is_dir():
            made = sorted(runs.iterdir(), key=lambda p: p.stat().st_mtime)
    assert made and (made[-1] / "summary.json").is_file()
    assert "epochs: 80" in (made[-1] / "config.yaml").read_text()  # the resume's override


# ----------------------------------------------------------------------------- Ctrl-C
def test_second_ctrl_c_aborts_with_one_line(toy: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def pressed_twice(config: ToyConfig, run: RunDir) -> dict[str, float]:
        raise KeyboardInterrupt

    monkeypatch.setattr(TOY, "run", pressed_twice)
    result = runner.invoke(app, ["run", str(toy), "--runs", str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 130
    assert "aborted: the last checkpoint is kept" in _one_error_line(result)


def test_ctrl_c_is_acknowledged_at_once_and_piped_output_is_whole_lines(tmp_path: Path) -> None:
    """A real `gmrl run` with stderr piped: SIGINT prints the acknowledgement at once, the run
    stops at the end of the step with a resume hint and exit 130; no progress-bar fragments."""
    import signal
    import subprocess
    import sys
    import time

    config = tmp_path / "long.yaml"
    config.write_text("recipe: generative\nn_train: 64\nn_test: 64\neval_samples: 64\n"
                      "batch_size: 64\nepochs: 100000\neval_every: 1\n"
                      "model: {name: flow, params: {hidden: 8}}\n")
    runs = tmp_path / "runs"
    process = subprocess.Popen(
        [sys.executable, "-m", "gmrl.cli", "run", str(config), "--runs", str(runs)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 120
        while not list(runs.glob("*/checkpoints/latest.json")):  # the run is under way
            assert process.poll() is None and time.monotonic() < deadline, process.stderr
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    lines = err.splitlines()
    assert "stopping after this step" in err
    assert lines[-1].startswith("interrupted: checkpoint saved at step ")
    assert "gmrl run --resume" in lines[-1]
    assert not any(mark in err for mark in ("\r", "\x1b[", "━", "Traceback")), err
