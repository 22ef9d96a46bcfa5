"""Safetensors checkpoints: nested state round trips, atomic writes, refusal of bad files."""

from pathlib import Path

import pytest
import torch

from gmrl.core.checkpoint import load_state, load_tensors, save_state, save_tensors
from gmrl.core.errors import CheckpointError


def test_nested_state_round_trip(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    state = {
        "model": model.state_dict(),
        "opt": optimizer.state_dict(),
        "step": 7,
        "pair": (1, "a"),
    }
    save_state(tmp_path / "s.safetensors", state)
    loaded, _ = load_state(tmp_path / "s.safetensors")
    assert loaded["step"] == 7 and loaded["pair"] == (1, "a")
    assert set(loaded["opt"]["state"]) == {0, 1}  # integer keys survive
    fresh = torch.optim.Adam(torch.nn.Linear(3, 2).parameters())
    fresh.load_state_dict(loaded["opt"])
    assert torch.equal(loaded["model"]["weight"], model.weight)


def test_truncated_and_foreign_files_are_refused(tmp_path: Path) -> None:
    path = save_tensors(tmp_path / "w.safetensors", {"x": torch.arange(1000.0)}, {"a": 1})
    data = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.safetensors").write_text("not a checkpoint")
    for name in ("cut.safetensors", "text.safetensors", "missing.safetensors"):
        with pytest.raises(CheckpointError) as info:
            load_tensors(tmp_path / name)
        assert "\n" not in str(info.value)


def test_failed_write_keeps_previous_file(tmp_path: Path) -> None:
    path = save_tensors(tmp_path / "w.safetensors", {"x": torch.ones(3)})
    with pytest.raises(TypeError):
        save_tensors(path, {"x": "not a tensor"})  # type: ignore[dict-item]
    tensors, _ = load_tensors(path)
    assert torch.equal(tensors["x"], torch.ones(3))
    assert not list(tmp_path.glob("*.tmp"))
