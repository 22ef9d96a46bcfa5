"""Run checkpoints carry a manifest (issue 24, item 3): latest.json records the sha256 of each
kept checkpoint, and a resume verifies the one it loads, so one flipped bit is refused in one
line naming the file instead of resuming silently; and a run refused after its directory was made
(a music corpus with no readable melody) leaves no directory behind (item 5)."""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from gmrl.cli import app
from gmrl.core.checkpoint import file_sha256

REPO = Path(__file__).resolve().parents[2]
TINY = """recipe: generative
seed: 0
dataset: two_moons
n_train: 64
n_test: 64
eval_samples: 64
batch_size: 64
epochs: 4
eval_every: 1
model: {name: flow, params: {hidden: 16}}
"""
runner = CliRunner()


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny finished run (four epochs, a checkpoint each; three kept)."""
    root = tmp_path_factory.mktemp("integrity")
    (root / "tiny.yaml").write_text(TINY)
    result = runner.invoke(app, ["run", str(root / "tiny.yaml"), "--runs", str(root / "runs"),
                                 "-q"])
    assert result.exit_code == 0, result.output
    (run,) = (root / "runs").iterdir()
    return run


def _copy(finished: Path, tmp_path: Path) -> Path:
    run = tmp_path / finished.name
    shutil.copytree(finished, run)
    return run


def _snapshot(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*"))
            if p.is_file() and p.name != ".lock"}


def _resume(run: Path) -> Result:
    return runner.invoke(app, ["run", "--resume", str(run), "epochs=5", "-q"])


def test_the_manifest_records_the_sha256_of_every_kept_checkpoint(finished: Path) -> None:
    latest = json.loads((finished / "checkpoints" / "latest.json").read_text())
    kept = sorted(p.name for p in (finished / "checkpoints").glob("state-*.safetensors"))
    assert latest["file"] == kept[-1] and sorted(latest["sha256"]) == kept and len(kept) == 3
    for name in kept:
        assert latest["sha256"][name] == file_sha256(finished / "checkpoints" / name)


def test_an_untouched_run_resumes(finished: Path, tmp_path: Path) -> None:
    run = _copy(finished, tmp_path)
    result = _resume(run)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_a_damaged_checkpoint_is_refused_naming_the_file(
    finished: Path, tmp_path: Path, damage: str
) -> None:
    run = _copy(finished, tmp_path)
    latest = json.loads((run / "checkpoints" / "latest.json").read_text())
    file = run / "checkpoints" / latest["file"]
    data = bytearray(file.read_bytes())
    if damage == "flip":  # one bit of the tensor data, past the header: safetensors reads it
        data[-5] ^= 0x01
        file.write_bytes(bytes(data))
    elif damage == "truncate":
        file.write_bytes(bytes(data[: len(data) // 2]))
    else:
        file.unlink()
    before = _snapshot(run)
    result = _resume(run)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    phrase = "is missing" if damage == "delete" else "does not match its sha256"
    assert lines[0].startswith(f"error: '{file}'") and phrase in lines[0], lines[0]
    assert f"gmrl run {run / 'config.yaml'}" in lines[0]
    assert _snapshot(run) == before  # nothing touched


def test_a_refused_music_run_leaves_no_run_directory(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "tune.mid").write_bytes(b"not a MIDI file at all")
    runs = tmp_path / "runs"
    result = runner.invoke(app, [
        "run", str(REPO / "configs/music/pretrain.yaml"), f"corpus.source={corpus}",
        f"corpus.cache_dir={tmp_path / 'cache'}", "--runs", str(runs), "-q",
    ])
    assert result.exit_code == 2, result.output
    assert "no melody could be read" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not runs.exists() or not any(runs.iterdir())
