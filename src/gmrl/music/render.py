"""Output a person can hear and see: WAV audio, piano-roll PNGs, MIDI files and token files.

Audio is synthesised in numpy (a few harmonics under an ADSR envelope, no soundfont needed) and
written as 16-bit mono PCM with the standard library's `wave`. Token files hold one composition
per line as space-separated event ids (RL Tuner's encoding), the format of the benchmark's
evaluation compositions.
"""

import io
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gmrl.core.checkpoint import atomic_write_bytes
from gmrl.music.encoding import (
    MAX_PITCH,
    MIN_PITCH,
    NUM_EVENTS,
    STEPS_PER_QUARTER,
    MusicDataError,
    as_event_array,
    events_to_notes,
)
from gmrl.music.midi import events_to_midi
from gmrl.sequence import tokens

_HARMONICS = (1.0, 0.5, 0.25, 0.125)  # amplitudes of partials 1..4: a soft organ-like tone
_ATTACK, _DECAY, _SUSTAIN, _RELEASE = 0.01, 0.08, 0.6, 0.05  # seconds, level, seconds


def _batch(events_batch: Any) -> list[np.ndarray]:
    """A list of 1-D event arrays from a 2-D array/tensor or a sequence of 1-D sequences."""
    if hasattr(events_batch, "detach") or isinstance(events_batch, np.ndarray):
        array = as_event_array(events_batch)
        if array.ndim == 1:
            return [array]
        if array.ndim != 2:
            raise MusicDataError(f"expected (N, steps) events, got shape {array.shape}")
        return list(array)
    return [as_event_array(e) for e in events_batch]


def synthesize(events: Any, *, sample_rate: int = 22050, tempo_bpm: float = 120.0) -> np.ndarray:
    """Float audio in [-1, 1] of one composition, exactly len(events) 16th steps long."""
    array = as_event_array(events)
    step_seconds = 60.0 / tempo_bpm / STEPS_PER_QUARTER
    total = round(len(array) * step_seconds * sample_rate)
    audio = np.zeros(total, dtype=np.float64)
    for note in events_to_notes(array):
        start = round(note.start * step_seconds * sample_rate)
        held = round((note.end - note.start) * step_seconds * sample_rate)
        length = min(held + round(_RELEASE * sample_rate), total - start)
        if length <= 0:
            continue
        t = np.arange(length) / sample_rate
        frequency = 440.0 * 2.0 ** ((note.pitch - 69) / 12)
        tone = sum(
            a * np.sin(2 * np.pi * frequency * (k + 1) * t) for k, a in enumerate(_HARMONICS)
        )
        audio[start : start + length] += tone * _envelope(length, held, sample_rate)
    peak = float(np.abs(audio).max()) if total else 0.0
    return audio * (0.8 / peak) if peak > 0 else audio


def _envelope(length: int, held: int, sample_rate: int) -> np.ndarray:
    """ADSR: attack to 1, decay to the sustain level while held, then release to 0."""
    t = np.arange(length) / sample_rate
    level = np.where(
        t < _ATTACK,
        t / _ATTACK,
        np.maximum(_SUSTAIN, 1.0 - (1.0 - _SUSTAIN) * (t - _ATTACK) / _DECAY),
    )
    held_seconds = held / sample_rate
    release_start = float(np.interp(held_seconds, t, level)) if length else 0.0
    after = t >= held_seconds
    level[after] = release_start * np.maximum(0.0, 1.0 - (t[after] - held_seconds) / _RELEASE)
    return level


def events_to_wav(
    events: Any, path: str | Path, *, sample_rate: int = 22050, tempo_bpm: float = 120.0
) -> Path:
    """Write one composition as a 16-bit mono WAV (duration = steps x 16th-note length)."""
    if sample_rate <= 0 or tempo_bpm <= 0:
        raise ValueError(
            f"sample_rate and tempo_bpm must be positive, got {sample_rate}, {tempo_bpm}"
        )
    audio = synthesize(events, sample_rate=sample_rate, tempo_bpm=tempo_bpm)
    pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(pcm.tobytes())
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


def piano_roll_png(
    events_batch: Any, path: str | Path, *, titles: Sequence[str] | None = None
) -> Path:
    """A grid of piano rolls (up to 16 compositions) saved as one PNG."""
    import matplotlib.pyplot as plt

    from gmrl.core.plots import save_figure

    compositions = _batch(events_batch)[:16]
    if not compositions:
        raise MusicDataError("piano_roll_png needs at least one composition")
    n = len(compositions)
    cols = min(4, n)
    rows = (n + cols - 1) // cols
    figure, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.0 * rows), squeeze=False)
    for index, axis in enumerate(axes.flat):
        if index >= n:
            axis.axis("off")
            continue
        events = compositions[index]
        notes = events_to_notes(events)
        axis.barh(
            [note.pitch for note in notes],
            [note.end - note.start for note in notes],
            left=[note.start for note in notes],
            height=0.8,
            align="center",
            color="tab:blue",
        )
        low = max(min((n.pitch for n in notes), default=60) - 2, MIN_PITCH - 2)
        high = min(max((n.pitch for n in notes), default=72) + 2, MAX_PITCH + 2)
        steps = max(len(events), 1)
        axis.set_xlim(0, steps)
        axis.set_ylim(low, high)
        axis.set_xticks(range(0, steps + 1, 16))
        axis.set_xticks(range(0, steps + 1, STEPS_PER_QUARTER), minor=True)
        axis.set_yticks([p for p in range(MIN_PITCH, MAX_PITCH + 1, 12) if low <= p <= high])
        axis.set_yticklabels([f"C{p // 12 - 1}" for p in axis.get_yticks()])
        axis.grid(axis="x", which="both", alpha=0.3)
        axis.tick_params(labelsize=7)
        axis.set_title(titles[index] if titles and index < len(titles) else f"#{index}", fontsize=8)
    figure.supxlabel("16th-note step", fontsize=8)
    figure.supylabel("pitch", fontsize=8)
    figure.subplots_adjust(hspace=0.6, wspace=0.3)
    return save_figure(figure, path)


def write_outputs(
    events_batch: Any,
    out_dir: str | Path,
    prefix: str = "melody",
    *,
    tempo_bpm: float = 120.0,
    sample_rate: int = 22050,
) -> dict[str, list[Path]]:
    """Write `prefix_000.mid`/`.wav` per composition and one `prefix_pianoroll.png` (first 16)."""
    compositions = _batch(events_batch)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[Path]] = {"midi": [], "wav": [], "png": []}
    for index, events in enumerate(compositions):
        stem = out / f"{prefix}_{index:03d}"
        written["midi"].append(
            events_to_midi(events, stem.with_suffix(".mid"), tempo_bpm=tempo_bpm)
        )
        written["wav"].append(
            events_to_wav(
                events, stem.with_suffix(".wav"), sample_rate=sample_rate, tempo_bpm=tempo_bpm
            )
        )
    if compositions:
        titles = [f"{prefix} {i}" for i in range(min(16, len(compositions)))]
        written["png"].append(
            piano_roll_png(compositions, out / f"{prefix}_pianoroll.png", titles=titles)
        )
    return written


def write_token_file(events: Any, path: str | Path) -> Path:
    """One composition per line, space-separated event ids, written atomically."""
    return tokens.write_token_file(_batch(events), path)


def read_token_file(path: str | Path) -> np.ndarray:
    """(N, steps) int64 events from a token file; one-line `TokenFileError` on bad content."""
    return tokens.read_token_file(
        path, vocab_size=NUM_EVENTS, legend="(0 = note off, 1 = no event, 2..37 = MIDI 48..83)"
    )
