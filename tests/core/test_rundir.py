"""Run directories: metrics CSV, checkpoints, resume truncation, summary."""

import csv
from pathlib import Path

import torch

from gmrl.core.rundir import RunDir


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
