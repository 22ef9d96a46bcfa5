"""Rendering: valid WAV of the right length, piano-roll PNGs, MIDI+WAV+PNG bundles, token files."""

import wave
from pathlib import Path

import numpy as np
import pytest
import torch

from gmrl.music.encoding import NO_EVENT, NOTE_OFF, MusicDataError, canonical
from gmrl.music.encoding import pitch_to_event as on
from gmrl.music.midi import midi_to_events
from gmrl.music.render import (
    events_to_wav,
    piano_roll_png,
    read_token_file,
    synthesize,
    write_outputs,
    write_token_file,
)
from gmrl.sequence.tokens import TokenFileError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _melodies(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    events = rng.integers(0, 38, size=(n, 32))
    events[:, 0] = on(60)
    return events


def test_wav_is_valid_and_has_the_composition_duration(tmp_path: Path) -> None:
    events = [on(60), NO_EVENT, NO_EVENT, NO_EVENT, on(64), NOTE_OFF, NO_EVENT, on(67)] * 4
    path = events_to_wav(events, tmp_path / "m.wav", sample_rate=16000, tempo_bpm=100)
    with wave.open(str(path), "rb") as audio:
        assert audio.getnchannels() == 1 and audio.getsampwidth() == 2
        assert audio.getframerate() == 16000
        seconds = audio.getnframes() / audio.getframerate()
        samples = np.frombuffer(audio.readframes(audio.getnframes()), dtype="<i2")
    assert seconds == pytest.approx(32 * 60 / 100 / 4, abs=1e-3)  # 32 sixteenths at 100 bpm
    assert 20000 < np.abs(samples).max() <= 32767  # normalised, not clipped silent


def test_synth_is_silent_in_rests_and_sounds_the_right_pitch() -> None:
    rate = 8000
    events = [on(69)] + [NO_EVENT] * 15 + [NOTE_OFF] + [NO_EVENT] * 15  # A4, then a bar of rest
    audio = synthesize(events, sample_rate=rate, tempo_bpm=120)
    half = len(audio) // 2
    note, rest = audio[: half - 400], audio[half + 800 :]  # skip the release tail
    assert np.abs(rest).max() == 0.0
    spectrum = np.abs(np.fft.rfft(note))
    peak_hz = np.argmax(spectrum) * rate / len(note)
    assert peak_hz == pytest.approx(440.0, abs=3.0)
    assert np.abs(synthesize([NO_EVENT] * 8, sample_rate=rate)).max() == 0.0


def test_piano_roll_png_grid_is_written(tmp_path: Path) -> None:
    path = piano_roll_png(_melodies(6), tmp_path / "roll.png", titles=["a", "b"])
    assert path.read_bytes()[:8] == PNG_MAGIC
    single = piano_roll_png(torch.tensor(_melodies(1)[0]), tmp_path / "one.png")
    assert single.stat().st_size > 1000
    with pytest.raises(MusicDataError, match="at least one"):
        piano_roll_png(np.zeros((0, 32), dtype=np.int64), tmp_path / "none.png")


def test_write_outputs_writes_midi_wav_and_one_png(tmp_path: Path) -> None:
    batch = torch.as_tensor(_melodies(3, seed=1))
    written = write_outputs(batch, tmp_path / "out", "tuned")
    assert [p.name for p in written["midi"]] == ["tuned_000.mid", "tuned_001.mid", "tuned_002.mid"]
    assert len(written["wav"]) == 3 and [p.name for p in written["png"]] == ["tuned_pianoroll.png"]
    for index, path in enumerate(written["midi"]):
        assert np.array_equal(midi_to_events(path), canonical(batch[index].numpy()))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        [p.name for group in written.values() for p in group]
    )


def test_token_file_round_trip_and_one_line_errors(tmp_path: Path) -> None:
    batch = _melodies(5, seed=2)
    path = write_token_file(batch, tmp_path / "tokens.txt")
    lines = path.read_text().splitlines()
    assert len(lines) == 5 and lines[0] == " ".join(str(e) for e in batch[0])
    loaded = read_token_file(path)
    assert loaded.dtype == np.int64 and np.array_equal(loaded, batch)

    cases = {
        "14 1 x 1\n": r"tokens\.txt:1: token 'x' is not an integer",
        "14 1 1 1\n14 40 1 1\n": r"tokens\.txt:2: id 40 outside 0\.\.37 \(0 = note off",
        "14 1 1 1\n14 1 1\n": r"tokens\.txt:2: 3 ids where earlier lines have 4",
        "\n\n": "holds no sequences",
    }
    for text, message in cases.items():
        path.write_text(text)
        with pytest.raises(TokenFileError, match=message) as info:
            read_token_file(path)
        assert "\n" not in str(info.value)
    with pytest.raises(TokenFileError, match="does not exist"):
        read_token_file(tmp_path / "missing.txt")
