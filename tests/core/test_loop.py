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
