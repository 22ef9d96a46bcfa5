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


def test_artifact_round_trip_and_refusals(tmp_path) -> None:
    import pytest
    import torch

    from gmrl.core.checkpoint import load_artifact, restore_or_explain, save_artifact
    from gmrl.core.errors import CheckpointError
    from gmrl.core.loop import TrainingLoop

    path = tmp_path / "a.safetensors"
    state = {"w": torch.arange(3.0), "step": 4, "nested": [torch.ones(2), {"k": 1.5}]}
    save_artifact(path, kind="thing", cls=TrainingLoop, init={"total": 3}, state=state,
                  extra={"note": "x"})
    loaded = load_artifact(path, kind="thing", base=object)
    assert loaded.cls is TrainingLoop and loaded.init == {"total": 3}
    assert torch.equal(loaded.state["w"], state["w"]) and loaded.state["step"] == 4
    assert loaded.extra == {"note": "x"}
    with pytest.raises(CheckpointError, match="not a world model"):
        load_artifact(path, kind="world model")
    with pytest.raises(CheckpointError, match="not a int"):
        load_artifact(path, kind="thing", base=int)
    net = torch.nn.Linear(2, 2)
    with pytest.raises(CheckpointError, match="does not fit the net") as info:
        restore_or_explain(path, "the net", lambda: net.load_state_dict({"weight": torch.ones(3)}))
    assert "\n" not in str(info.value)
