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
    # spawned, not forked: a fork of a test worker whose torch / SB3 threads hold locks can hang
    # (seen under xdist, after the agent-contract tests had run in the same worker)
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(6) as pool:
        for trial in range(3):
            root = tmp_path / f"trial{trial}"
            barrier = manager.Barrier(6)
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


def _run_with_rows(tmp_path: Path) -> RunDir:
    """Rows 1-3 logged, a checkpoint at step 2 (which records 2 rows), then closed."""
    run = RunDir.create(tmp_path, "demo", "recipe: demo\n", quiet=True)
    for step in (1, 2):
        run.log(step, {"loss": 1.0 / step})
    run.save_checkpoint(2, {"w": torch.ones(2)})
    run.log(3, {"loss": 0.25})
    run.close()
    return run


def test_a_row_cut_off_after_the_checkpoint_is_dropped_on_resume(tmp_path: Path) -> None:
    """A kill while row 3 was appended: that row is lost work anyway, so the resume goes on."""
    path = _run_with_rows(tmp_path).path
    metrics = path / "metrics.csv"
    metrics.write_text(metrics.read_text()[:-4])
    again = RunDir.open_existing(path, quiet=True)
    step, _ = again.load_latest_checkpoint()  # type: ignore[misc]
    assert step == 2 and [r["step"] for r in again.rows] == ["1", "2"]
    assert metrics.read_text().endswith("\n")
    again.close()


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda text: None, "is missing"),
        (lambda text: text.splitlines(True)[0], "has 0 rows up to step 2"),
        (lambda text: "".join(text.splitlines(True)[:2]), "has 1 rows up to step 2"),
        (lambda text: "".join(text.splitlines(True)[:3])[:-3], "is cut off"),
    ],
    ids=["deleted", "header-only", "row-2-dropped", "row-2-cut"],
)
def test_metrics_rows_lost_before_the_checkpoint_are_refused(
    tmp_path: Path, damage: object, expected: str
) -> None:
    path = _run_with_rows(tmp_path).path
    metrics = path / "metrics.csv"
    text = damage(metrics.read_text())  # type: ignore[operator]
    if text is None:
        metrics.unlink()
    else:
        metrics.write_text(text)
    before = metrics.read_bytes() if metrics.exists() else None
    again = RunDir.open_existing(path, quiet=True)
    with pytest.raises(CheckpointError, match=expected) as info:
        again.load_latest_checkpoint()
    again.close()
    assert "metrics.csv" in str(info.value) and "gmrl run " in str(info.value)
    assert (metrics.read_bytes() if metrics.exists() else None) == before


def test_config_edits_are_refused_but_overrides_are_recorded(tmp_path: Path) -> None:
    from gmrl.core.errors import ConfigError
    from gmrl.core.rundir import read_run_record, sha256_text

    run = RunDir.create(tmp_path, "demo", "recipe: demo\nseed: 0\n", quiet=True)
    record = read_run_record(run.path)
    assert record == {"config_sha256": sha256_text("recipe: demo\nseed: 0\n")}
    run.check_config_unchanged("recipe: demo\nseed: 0\n")
    run.pending_config, run.pending_overrides = "recipe: demo\nseed: 1\n", ["seed=1"]
    run.commit_config()
    run.check_config_unchanged("recipe: demo\nseed: 1\n")
    assert read_run_record(run.path) == {"config_sha256": sha256_text("recipe: demo\nseed: 1\n"),
                                         "resumes": [{"overrides": ["seed=1"]}]}
    (run.path / "config.yaml").write_text("recipe: demo\nseed: 2\n")
    with pytest.raises(ConfigError, match="was edited after the run started"):
        run.check_config_unchanged("recipe: demo\nseed: 2\n")
    run.close()
