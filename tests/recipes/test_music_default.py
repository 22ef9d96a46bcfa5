"""configs/music/default.yaml: one `gmrl run` pre-trains and tunes on any corpus, including a
user's folder given as a bare `corpus=<folder>`; a missing or unreadable folder is one line."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gmrl.cli import app
from gmrl.core.config import load_config
from gmrl.music.encoding import FIRST_NOTE, NO_EVENT, NOTE_OFF
from gmrl.music.midi import events_to_midi
from gmrl.music.note_rnn import build_note_rnn
from gmrl.recipes import load_recipe, music

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "configs" / "music" / "default.yaml"
C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72, 74, 76]
# seconds, not minutes: a tiny Note-RNN, a few steps and compositions
TINY = ["note_rnn.epochs=1", "note_rnn.min_updates=8", "note_rnn.hidden=16",
        "note_rnn.embed_dim=8", "note_rnn.batch_size=16", "tuning.steps=2",
        "tuning.tuner.batch_size=16", "tuning.tuner.group_size=4", "eval.compositions=32",
        "eval.every=1", "eval.batch=16", "eval.render=1"]


def melody_folder(root: Path, n: int = 12, steps: int = 64) -> Path:
    """`n` MIDI files of 4-bar random walks on C major in eighth and quarter notes."""
    rng = np.random.default_rng(3)
    folder = root / "my melodies"  # a space in the path, as users' folders have
    (folder / "sub").mkdir(parents=True)
    for index in range(n):
        events, at, degree = np.full(steps, NO_EVENT), 0, 4
        while at < steps - 4:
            degree = int(np.clip(degree + rng.integers(-2, 3), 0, len(C_MAJOR) - 1))
            events[at] = C_MAJOR[degree] - 48 + FIRST_NOTE
            at += int(rng.choice([2, 4]))
        events[at] = NOTE_OFF
        where = folder / "sub" if index % 3 == 0 else folder  # searched recursively
        events_to_midi(events, where / f"tune{index}.mid")
    return folder


def test_bare_corpus_string_stands_for_its_source() -> None:
    config_class = lambda name: load_recipe(name).Config  # noqa: E731
    for source in ("bach", "essen", "/some/folder"):
        config = load_config(DEFAULT, [f"corpus={source}"], config_class)
        assert config.corpus.source == source
        assert config.corpus.test_fraction == 0.1 and config.corpus.stride == 16
    assert load_config(DEFAULT, [], config_class).corpus.source == "essen"


def test_default_config_pretrains_and_tunes_on_a_users_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GMRL_CACHE", str(tmp_path / "cache"))
    folder = melody_folder(tmp_path)
    runs = tmp_path / "runs"
    result = CliRunner().invoke(app, ["run", str(DEFAULT), f"corpus={folder}", *TINY,
                                      "--runs", str(runs), "--quiet"])
    assert result.exit_code == 0, result.output
    (run,) = runs.iterdir()
    summary = json.loads((run / "summary.json").read_text())
    # one run: the Note-RNN was pre-trained here (no checkpoint given), then tuned
    assert (run / "note_rnn.safetensors").is_file() and (run / "policy.safetensors").is_file()
    assert "note_rnn/held_out_nll" in summary and "tuned/log_p" in summary
    assert "corpus/memorisation_16" in summary and "tune/stopped_early" in summary
    assert "tune/backoffs" in summary  # the collapse guard's back-offs, beside its stops
    # the budget was measured on the folder's held-out windows before tuning (kl_budget: corpus)
    assert summary["budget/held_out"] > 0 and summary["budget/nats"] >= 1.0
    rows = (run / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    pretrain = [r for r in rows[1:] if r.split(",")[header.index("pretrain/nll")]]
    # min_updates (8 Adam steps) asks for more passes than note_rnn.epochs (1) on this corpus
    config = load_config(DEFAULT, [f"corpus={folder}", *TINY], lambda n: load_recipe(n).Config)
    train, _ = music.load_windows(config)
    passes = math.ceil(8 / math.ceil(len(train) / 16))
    assert passes > 1 and len(pretrain) == passes
    assert list((run / "samples").glob("*.wav"))
    cached = list((tmp_path / "cache" / "music").glob("folder-my melodies-*.npz"))
    assert len(cached) == 1  # parsed once (in the check before the run), then read back


def test_a_back_off_of_the_guard_floors_the_budgets_beta_and_the_guide_follows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the collapse guard backs off (beta raised, `beta_floor`), the budget controller
    never takes beta below the raised value, and the guide's scale follows beta."""
    monkeypatch.setenv("GMRL_CACHE", str(tmp_path / "cache"))
    folder = melody_folder(tmp_path)
    config = load_config(DEFAULT, [f"corpus={folder}", *TINY], lambda n: load_recipe(n).Config)
    assert config.tuning.tuner.concentration_factor == 3.0  # the shipped guard
    _, held_out = music.load_windows(config)
    note_rnn = build_note_rnn(config.note_rnn).eval().requires_grad_(False)
    tuning = music._Tuning(config, note_rnn, held_out)
    assert tuning.on is not None and tuning.controller is not None and tuning.guide is not None
    raised = 4 * config.tuning.tuner.beta
    tuning.on.beta_floor = tuning.on.kl_controller.beta = raised  # as a back-off leaves them
    for _ in range(2):
        tuning.step()
        assert tuning.controller.controller.min_beta == raised
        assert tuning.on.kl_controller.beta >= raised
        assert tuning.guide.scale == pytest.approx(
            1 / (config.tuning.c * tuning.on.kl_controller.beta))


def test_missing_or_unreadable_folder_is_one_line_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GMRL_CACHE", str(tmp_path / "cache"))
    runs = tmp_path / "runs"
    missing = tmp_path / "no such folder"
    result = CliRunner().invoke(app, ["run", str(DEFAULT), f"corpus={missing}", "--runs",
                                      str(runs)])
    assert result.exit_code == 2
    assert "does not exist" in result.output and "Traceback" not in result.output
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.mid").write_bytes(b"not a midi file")
    result = CliRunner().invoke(app, ["run", str(DEFAULT), f"corpus={bad}", "--runs", str(runs)])
    assert result.exit_code == 2, result.output
    assert "no melody could be read" in result.output
    # a key of a corpus given bare would silently drop the bare source: refused instead
    result = CliRunner().invoke(app, ["run", str(DEFAULT), f"corpus={bad}",
                                      "corpus.max_files=3", "--runs", str(runs)])
    assert result.exit_code == 2
    assert "give each of its keys as corpus.<key>=" in result.output
    assert not runs.exists() or not any(runs.iterdir())
