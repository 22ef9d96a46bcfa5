"""`gmrl sweep`'s reporting around a launch (Ray replaced by a stand-in): failed trials in one
line each with exit 1, an interrupted sweep with exit 130 and the resume command, a locked
sweep directory refused, and resume options checked."""

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gmrl.cli import app
from gmrl.sweep import runner as sweep_runner
from gmrl.sweep.runner import Outcome
from gmrl.sweep.spec import sweep_lock

from .conftest import MOONS, TINY

cli = CliRunner()


def _stand_in(monkeypatch: pytest.MonkeyPatch, outcome: Outcome) -> None:
    @contextlib.contextmanager
    def session(resources: Any) -> Iterator[None]:
        yield

    monkeypatch.setattr(sweep_runner, "require_ray", lambda search: None)
    monkeypatch.setattr(sweep_runner, "ray_session", session)
    monkeypatch.setattr(sweep_runner, "launch", lambda folder, spec, resources: outcome)


def _sweep(tmp_path: Path) -> list[str]:
    return ["sweep", str(MOONS), *TINY, "-g", "model.name=flow,vae", "--runs", str(tmp_path)]


def test_failed_trials_are_one_line_each_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failed = {"model.name-vae-seed0": "model.name-vae-seed0: the disk is full",
              "model.name-flow-seed0": "RuntimeError: boom"}
    _stand_in(monkeypatch, Outcome(0, failed))
    result = cli.invoke(app, _sweep(tmp_path))
    assert result.exit_code == 1
    (folder,) = tmp_path.iterdir()
    assert "failed: model.name-vae-seed0: the disk is full\n" in result.output
    assert "failed: model.name-flow-seed0: RuntimeError: boom\n" in result.output
    assert f"2 trial(s) failed; fix the cause and continue with: gmrl sweep --resume {folder}" \
        in result.output
    assert "no trial has finished yet" in result.output
    assert (folder / "sweep.yaml").is_file() and (folder / "results.csv").is_file()


def test_an_interrupted_sweep_exits_130_with_the_resume_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stand_in(monkeypatch, Outcome(0, {}, unfinished=2))
    result = cli.invoke(app, _sweep(tmp_path))
    (folder,) = tmp_path.iterdir()
    assert result.exit_code == 130
    assert f"2 trial(s) not finished; continue with: gmrl sweep --resume {folder}" in result.output
    # resuming is refused while another gmrl sweep holds the directory
    with sweep_lock(folder):
        busy = cli.invoke(app, ["sweep", "--resume", str(folder)])
    assert busy.exit_code == 2 and "in use by another gmrl sweep" in busy.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--seeds", "2"], "drop --seeds"),
        (["--grid", "epochs=1,2"], "drop --grid"),
        (["--trials", "4"], "--trials is for --search optuna"),
    ],
)
def test_resume_keeps_the_recorded_grid(
    extra: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stand_in(monkeypatch, Outcome(0, {}, unfinished=2))
    cli.invoke(app, _sweep(tmp_path))
    (folder,) = tmp_path.iterdir()
    result = cli.invoke(app, ["sweep", "--resume", str(folder), *extra])
    assert result.exit_code == 2 and message in result.output
