"""SIGTERM and SIGHUP (a scheduler, `timeout`, a closed terminal) stop a run the way Ctrl-C does:
a checkpoint at the next step boundary, the `--resume` line, exit code 130 (issue 24, item 4)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gmrl.cli import app
from gmrl.core.rundir import RunDir

REPO = Path(__file__).resolve().parents[1]
LONG = ("recipe: generative\nn_train: 64\nn_test: 64\neval_samples: 64\nbatch_size: 64\n"
        "epochs: 100000\neval_every: 1\nmodel: {name: flow, params: {hidden: 8}}\n")


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_interrupt_guard_turns_the_first_signal_into_a_stop(tmp_path: Path, name: str) -> None:
    number = getattr(signal, name)
    before = signal.getsignal(number)
    run = RunDir(tmp_path, quiet=True)
    try:
        with run.interrupt_guard():
            os.kill(os.getpid(), number)
            time.sleep(0.05)  # the handler runs between bytecodes of the main thread
            assert run.stop_requested and run.stop_signal == name
            with pytest.raises(KeyboardInterrupt):  # a second signal aborts at once
                os.kill(os.getpid(), number)
                time.sleep(0.05)
    finally:
        run.close()
    assert signal.getsignal(number) == before  # handlers put back


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_signal_checkpoints_prints_the_resume_line_and_exits_130(
    tmp_path: Path, name: str
) -> None:
    """A real `gmrl run` receiving SIGTERM/SIGHUP: acknowledged at once, a checkpoint at the
    step it stopped on, the resume command, exit 130; the resume then continues from there."""
    config = tmp_path / "long.yaml"
    config.write_text(LONG)
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
        process.send_signal(getattr(signal, name))
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert f"{name} received: stopping after this step" in err
    last = err.splitlines()[-1]
    assert last.startswith(f"interrupted by {name}: checkpoint saved at step "), err
    assert "Traceback" not in err
    (run,) = runs.iterdir()
    assert last.endswith(f"continue with: gmrl run --resume {run}")
    step = int(last.split("checkpoint saved at step ")[1].split(";")[0])
    assert json.loads((run / "checkpoints" / "latest.json").read_text())["step"] == step
    resumed = CliRunner().invoke(app, ["run", "--resume", str(run), f"epochs={step + 1}", "-q"])
    assert resumed.exit_code == 0, resumed.output
    rows = (run / "metrics.csv").read_text().splitlines()[1:]
    assert [int(row.split(",")[0]) for row in rows] == list(range(1, step + 2))
