"""The shared training loop: schedule, checkpoint + RNG state, Ctrl-C, exact resume."""

import csv

import pytest
import torch

from gmrl.core.errors import RunInterrupted
from gmrl.core.loop import TrainingLoop, is_due
from gmrl.core.rundir import RunDir


def test_is_due_on_multiples_and_final_step() -> None:
    assert [s for s in range(1, 11) if is_due(s, 4, 10)] == [4, 8, 10]
    assert not is_due(3, None, 10)
    assert is_due(10, None, 10)


def _train(run: RunDir, total: int, stop_at: int | None = None) -> list[float]:
    weights = {"w": torch.zeros(3)}
    loop = TrainingLoop(
        run, total=total, description="toy", eval_every=3,
        state=lambda: {"w": weights["w"].clone()},
        restore=lambda s: weights.update(w=s["w"]),
    )
    start = loop.resume()
    with loop:
        for step in range(start + 1, total + 1):
            weights["w"] = weights["w"] + torch.randn(3)
            metrics = {"w0": float(weights["w"][0])}
            if loop.eval_due(step):
                metrics["eval/norm"] = float(weights["w"].norm())
            if stop_at is not None and step == stop_at:
                run.stop_requested = True
            loop.end_step(step, metrics)
    return weights["w"].tolist()


def _csv(run: RunDir) -> list[dict[str, str]]:
    with (run.path / "metrics.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_interrupt_then_resume_matches_uninterrupted(tmp_path) -> None:
    torch.manual_seed(0)
    whole = RunDir.create(tmp_path, "a", "x: 1\n", quiet=True)
    final_whole = _train(whole, 10)

    torch.manual_seed(0)
    part = RunDir.create(tmp_path, "b", "x: 1\n", quiet=True)
    with pytest.raises(RunInterrupted) as stopped:
        _train(part, 10, stop_at=5)
    assert stopped.value.step == 5
    part.close()  # releases the directory lock, as the CLI does when a run ends
    torch.manual_seed(123)  # the resumed process starts from other RNG state
    resumed = RunDir.open_existing(part.path, quiet=True)
    assert _train(resumed, 10) == final_whole
    assert _csv(resumed) == _csv(whole)


def test_checkpoints_fall_on_eval_steps(tmp_path) -> None:
    run = RunDir.create(tmp_path, "c", "x: 1\n", quiet=True, keep_checkpoints=10)
    torch.manual_seed(0)
    _train(run, 7)
    names = sorted(p.name for p in run.checkpoints_dir.glob("state-*.safetensors"))
    assert names == [f"state-{s:08d}.safetensors" for s in (3, 6, 7)]


def test_plain_status_lines_when_stderr_is_not_a_terminal(tmp_path, capsys) -> None:
    run = RunDir.create(tmp_path, "d", "x: 1\n", quiet=False)
    torch.manual_seed(0)
    _train(run, 6)
    run.close()
    err = capsys.readouterr().err
    assert err.splitlines() == ["toy: step 3/6", "toy: step 6/6"]  # whole lines, no live bar


def test_resume_that_does_not_fit_leaves_the_run_untouched(tmp_path) -> None:
    run = RunDir.create(tmp_path, "e", "x: 1\n", quiet=True)
    torch.manual_seed(0)
    with pytest.raises(RunInterrupted):
        _train(run, 10, stop_at=4)  # checkpoint at 4, after rows 1..4
    run.log(5, {"w0": 1.0})  # a row after the checkpoint (work lost by a crash)
    run.close()
    before = (run.path / "metrics.csv").read_bytes()

    again = RunDir.open_existing(run.path, quiet=True)
    again.pending_config = "x: 2\n"
    loop = TrainingLoop(again, total=10, description="toy", state=dict,
                        restore=lambda s: torch.zeros(2).copy_(s["w"]))
    from gmrl.core.errors import CheckpointError

    with pytest.raises(CheckpointError, match="does not fit"):
        loop.resume()
    again.close()
    assert (run.path / "metrics.csv").read_bytes() == before
    assert (run.path / "config.yaml").read_text() == "x: 1\n"

    fits = RunDir.open_existing(run.path, quiet=True)
    fits.pending_config = "x: 2\n"
    loop = TrainingLoop(fits, total=10, description="toy", state=dict,
                        restore=lambda s: torch.zeros(3).copy_(s["w"]))
    assert loop.resume() == 4
    fits.close()
    assert [r["step"] for r in _csv(fits)] == ["1", "2", "3", "4"]
    assert (run.path / "config.yaml").read_text() == "x: 2\n"
