"""`gmrl music generate RUN_DIR -n N -o DIR` writes MIDI, WAV, a piano roll and a token file."""

import torch
from typer.testing import CliRunner

from gmrl.cli import app
from gmrl.music.note_rnn import NoteRNNConfig, build_note_rnn
from gmrl.music.policy import MelodyPolicy, save_policy
from gmrl.music.render import read_token_file


def test_generate_writes_files_from_a_run_directory(tmp_path) -> None:
    torch.manual_seed(0)
    run_dir = tmp_path / "run"
    save_policy(MelodyPolicy(build_note_rnn(NoteRNNConfig(hidden=8, embed_dim=4)), name="psi"),
                run_dir / "policy.safetensors")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["music", "generate", str(run_dir), "-n", "3", "-o", str(out),
                                      "--seed", "1"])
    assert result.exit_code == 0, result.output
    tokens = read_token_file(out / "compositions.txt")
    assert tokens.shape == (3, 32)
    assert len(list(out.glob("*.mid"))) == 3 and len(list(out.glob("*.wav"))) == 3
    assert list(out.glob("*.png"))
    again = tmp_path / "again"
    CliRunner().invoke(app, ["music", "generate", str(run_dir), "-n", "3", "-o", str(again),
                             "--seed", "1"])
    assert (again / "compositions.txt").read_text() == (out / "compositions.txt").read_text()


def test_a_directory_without_a_policy_is_one_line(tmp_path) -> None:
    result = CliRunner().invoke(app, ["music", "generate", str(tmp_path), "-o", str(tmp_path)])
    assert result.exit_code == 2
    assert "no policy.safetensors" in result.output
    assert "Traceback" not in result.output
