"""Run directories: metrics CSV, checkpoints, resume truncation, summary, and safety (lock,
race-free creation, stale temp files, strict JSON, OS errors as one line)."""

import csv
import errno
import json
import multiprocessing
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from gmrl.core import checkpoint as checkpoint_module
from gmrl.core.errors import CheckpointError, RunDirError
from gmrl.core.rundir import LOCK_FILE, RunDir, strict_json


def test_layout_metrics_and_checkpoints(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "demo", "recipe: demo\n", quiet=True)
    run.log(1, {"loss": 1.5, "time/sps": 100.0})
    run.log(2, {"loss": 1.0, "eval/score": 3.0})  # a new column rewrites the header
    run.save_checkpoint(2, {"w": torch.ones(2), "step": 2})
    run.log(3, {"loss": 0.5})
    run.close()
    with (run.path / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["step"] for r in rows] == ["1", "2", "3"]
    assert "time/sps" not in rows[0] and rows[1]["eval/score"] == "3.0"
    assert list(run.path.glob("events.out.tfevents*"))
    assert (run.path / "config.yaml").read_text() == "recipe: demo\n"

    again = RunDir.open_existing(run.path, quiet=True)
    step, state = again.load_latest_checkpoint()  # type: ignore[misc]
    assert step == 2 and torch.equal(state["w"], torch.ones(2))
    assert [r["step"] for r in again.rows] == ["1", "2"]  # row 3 was lost with the crash


def test_old_checkpoints_are_pruned(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "demo", "recipe: demo\n", keep_checkpoints=2)
    for step in range(5):
        run.save_checkpoint(step, {"step": step})
    assert len(list(run.checkpoints_dir.glob("state-*.safetensors"))) == 2


# ----------------------------------------------------------------------------- safety


def test_second_handle_on_a_run_is_refused_until_the_first_closes(tmp_path: Path) -> None:
    first = RunDir.create(tmp_path, "demo", "recipe: demo\n", quiet=True)
    before = sorted(p.name for p in first.path.rglob("*"))
    with pytest.raises(RunDirError, match="in use by another gmrl process"):
        RunDir.open_existing(first.path, quiet=True)
    assert sorted(p.name for p in first.path.rglob("*")) == before
    first.close()
    RunDir.open_existing(first.path, quiet=True).close()


def _create_after_barrier(args: tuple[str, object]) -> str:
    root, barrier = args
    barrier.wait()  # type: ignore[attr-defined]
    run = RunDir.create(root, "race", "recipe: race\n", quiet=True)
    run.close()
    return str(run.path)


def test_concurrent_creates_never_collide(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for trial in range(3):
        root = tmp_path / f"trial{trial}"
        barrier = context.Manager().Barrier(6)
        with context.Pool(6) as pool:
            paths = pool.map(_create_after_barrier, [(str(root), barrier)] * 6)
        assert len(set(paths)) == 6
        assert all((Path(p) / "config.yaml").is_file() for p in paths)


def test_stale_temp_files_are_removed_on_open(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "demo", "recipe: demo\n", quiet=True)
    run.close()
    stale = [
        run.path / ".metrics.csv.abc123.tmp",
        run.checkpoints_dir / ".state-00000002.safetensors.x1y2.tmp",
        run.path / "plots" / ".curve.png.zz.tmp",
    ]
    for file in stale:
        file.write_bytes(b"half written")
    keep = run.path / "notes.tmp"  # not one of ours: left alone
    keep.write_text("user file")
    RunDir.open_existing(run.path, quiet=True).close()
    assert not any(file.exists() for file in stale)
    assert keep.exists()


def test_summary_is_strict_json(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "demo", "recipe: demo\n", quiet=True)
    nan = float("nan")
    run.write_summary({"steps_to_target": nan, "best": float("inf"), "mse": np.float32(0.5),
                       "curve": [1.0, nan], "n": np.int64(3), "t": torch.tensor(2.0)})

    def refuse(token: str) -> None:
        raise AssertionError(f"summary.json holds {token}")

    data = json.loads((run.path / "summary.json").read_text(), parse_constant=refuse)
    assert data == {"steps_to_target": None, "best": None, "mse": 0.5, "curve": [1.0, None],
                    "n": 3, "t": 2.0}
    assert strict_json({"x": -float("inf")}) == {"x": None}


def test_runs_root_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    file = tmp_path / "runs"
    file.write_text("not a folder")
    with pytest.raises(RunDirError, match="is a file, not a folder"):
        RunDir.create(file, "demo", "recipe: demo\n")
    with pytest.raises(RunDirError, match="a path component is a file"):
        RunDir.create(file / "sub", "demo", "recipe: demo\n")


def test_unwritable_runs_root_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def read_only(self: Path, *args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "mkdir", read_only)
    with pytest.raises(RunDirError, match="read-only"):
        RunDir.create(tmp_path / "runs", "demo", "recipe: demo\n")


def test_read_only_runs_folder_is_one_line(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    root.mkdir()
    root.chmod(0o555)
    try:
        if os.access(root, os.W_OK):
            pytest.skip("this user (root) can write into read-only folders")
        with pytest.raises(RunDirError, match="permission denied"):
            RunDir.create(root, "demo", "recipe: demo\n")
    finally:
        root.chmod(0o755)


def test_disk_full_keeps_the_last_good_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = RunDir.create(tmp_path, "demo", "recipe: demo\n", quiet=True)
    run.save_checkpoint(1, {"w": torch.ones(3)})

    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_module.os, "replace", full)
    with pytest.raises(OSError):
        run.save_checkpoint(2, {"w": torch.zeros(3)})
    monkeypatch.undo()
    run.close()
    leftovers = [p.name for p in run.path.rglob(".*.tmp")]
    assert leftovers == []
    again = RunDir.open_existing(run.path, quiet=True)
    step, state = again.load_latest_checkpoint()  # type: ignore[misc]
    assert step == 1 and torch.equal(state["w"], torch.ones(3))


def test_checkpoint_of_another_recipe_is_refused(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "rl", "recipe: rl\n", quiet=True)
    run.save_checkpoint(1, {"agent": torch.ones(1)})
    run.close()
    other = RunDir(run.path, quiet=True, recipe="generative")
    with pytest.raises(CheckpointError, match="written by recipe 'rl'"):
        other.load_latest_checkpoint()
    other.close()
    assert (run.path / LOCK_FILE).exists()


def test_ctrl_c_is_acknowledged_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import signal

    run = RunDir.create(tmp_path, "demo", "recipe: demo\n", quiet=True)
    with run.interrupt_guard():
        os.kill(os.getpid(), signal.SIGINT)
        assert run.stop_requested
        assert "stopping after this step" in capsys.readouterr().err
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    run.close()
