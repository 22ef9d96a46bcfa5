"""One trial without Ray: a normal run directory, reused once finished, resumed from its last
checkpoint after a crash with the same metrics; and what a resumed sweep has left to run."""

import json
import re
import shutil
import socket
from pathlib import Path

import pytest

from gmrl.core.errors import GmrlError
from gmrl.sweep.runner import (
    Resources,
    check_fits,
    check_reachable,
    pending_trials,
    read_ledger,
    work_left,
)
from gmrl.sweep.spec import TRIALS
from gmrl.sweep.trial import TrialFailed, mean_figures, numeric_figures, run_trial

from .conftest import tiny_spec


def test_a_trial_is_a_normal_run_directory_and_is_not_run_twice(tmp_path: Path) -> None:
    spec = tiny_spec(["model.name=flow"], seeds=2)
    point = spec.points()[0]
    assert pending_trials(tmp_path, spec) == ["model.name-flow-seed0", "model.name-flow-seed1"]
    summary = run_trial(tmp_path, spec, point, 1)
    folder = tmp_path / TRIALS / "model.name-flow-seed1"
    for name in ("config.yaml", "metrics.csv", "summary.json", "checkpoints/latest.json"):
        assert (folder / name).is_file(), name
    assert "seed: 1" in (folder / "config.yaml").read_text()
    assert summary == json.loads((folder / "summary.json").read_text())
    assert pending_trials(tmp_path, spec) == ["model.name-flow-seed0"]
    metrics = (folder / "metrics.csv").stat().st_mtime_ns
    assert run_trial(tmp_path, spec, point, 1) == summary  # reused, not rerun
    assert (folder / "metrics.csv").stat().st_mtime_ns == metrics


def test_an_interrupted_trial_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    spec = tiny_spec([])
    point = spec.points()[0]
    whole = tmp_path / "whole"
    expected = run_trial(whole, spec, point, 0)
    folder = whole / TRIALS / "base-seed0"
    expected_metrics = (folder / "metrics.csv").read_text()
    # as a crash after epoch 1 would leave it: the epoch-1 checkpoint is the latest, no summary
    crashed = tmp_path / "crashed" / TRIALS / "base-seed0"
    shutil.copytree(folder, crashed)
    (crashed / "summary.json").unlink()
    (crashed / "checkpoints" / "state-00000002.safetensors").unlink()
    (crashed / "checkpoints" / "latest.json").write_text(
        json.dumps({"step": 1, "file": "state-00000001.safetensors"}))
    # mark epoch 1's row: a resume keeps the rows up to its checkpoint, a fresh run would not
    lines = expected_metrics.splitlines(keepends=True)
    assert lines[1].startswith("1,")
    marked = "".join([lines[0], "1,123.0" + "," * lines[1].count(",", 2) + "\n", *lines[2:]])
    (crashed / "metrics.csv").write_text(marked)
    assert work_left(tmp_path / "crashed", spec) == 1
    assert run_trial(tmp_path / "crashed", spec, point, 0) == expected
    assert (crashed / "metrics.csv").read_text() == marked
    assert work_left(tmp_path / "crashed", spec) == 0


def test_a_failing_trial_is_one_line(tmp_path: Path) -> None:
    spec = tiny_spec(["model.name=flow"])
    (tmp_path / TRIALS).mkdir()
    (tmp_path / TRIALS / "model.name-flow-seed0").write_text("a file where the folder goes")
    with pytest.raises(TrialFailed, match=r"^model\.name-flow-seed0: .*failed"):
        run_trial(tmp_path, spec, spec.points()[0], 0)


def test_figures_and_their_means() -> None:
    assert numeric_figures({"a": 1, "b": 2.5, "c": None, "d": True, "e": "x"}) == {
        "a": 1.0, "b": 2.5}
    assert mean_figures([{"a": 1, "b": 2}, {"a": 3, "b": None}]) == {"a": 2.0, "b": 2.0}


def test_search_ledger_counts_finished_trials(tmp_path: Path) -> None:
    spec = tiny_spec(["model.name=flow,vae"], search="optuna", trials=3, metric="mmd")
    assert work_left(tmp_path, spec) == 3
    line = {"config": {"g0": "vae"}, "point": "model.name-vae", "score": 0.5}
    (tmp_path / "search.jsonl").write_text(json.dumps(line) + "\n" + '{"config": {"g0"')
    assert read_ledger(tmp_path) == [line]  # a line torn by a kill is skipped
    assert work_left(tmp_path, spec) == 2


def test_a_trial_larger_than_the_local_ray_is_refused() -> None:
    check_fits({"CPU": 2.0}, Resources(cpus_per_trial=2))
    with pytest.raises(GmrlError, match=r"needs 1 GPU.*has 0: lower --gpus-per-trial"):
        check_fits({"CPU": 2.0}, Resources(gpus_per_trial=1))
    with pytest.raises(GmrlError, match=r"needs 3 CPU.*has 2: lower --cpus-per-trial"):
        check_fits({"CPU": 2.0}, Resources(cpus_per_trial=3))


def test_an_address_that_does_not_answer_is_one_line() -> None:
    with socket.socket() as server:  # a port that was free a moment ago: nobody listens
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
    for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
        with pytest.raises(GmrlError, match=f"cannot reach Ray at '{re.escape(address)}'"):
            check_reachable(address, timeout=2)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        check_reachable(f"ray://127.0.0.1:{server.getsockname()[1]}")
    check_reachable("auto")  # left to Ray
