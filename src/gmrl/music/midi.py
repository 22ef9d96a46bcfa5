"""MIDI files <-> RL Tuner events, through pretty_midi.

`events_to_midi` writes one instrument track at a fixed tempo, plus a text marker at the
composition's last step so that trailing rests survive a round trip; `midi_to_events` reads the
first non-drum instrument with notes (or the one asked for), converts times to 16th steps through
the file's tempo map, and encodes it like any other melody (quantised, made monophonic, folded
into range). For an encodable melody MIDI -> events -> MIDI -> events is the identity.
"""

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pretty_midi

from gmrl.core.checkpoint import atomic_write_bytes
from gmrl.music.encoding import (
    STEPS_PER_QUARTER,
    EncodeStats,
    MusicDataError,
    OutOfRange,
    as_event_array,
    encode_notes,
    events_to_notes,
    quantize,
)

END_MARKER = "gmrl:end"
_RESOLUTION = 480  # ticks per quarter note: a 16th is exactly 120 ticks


def events_to_midi(
    events: Any,
    path: str | Path,
    *,
    tempo_bpm: float = 120.0,
    program: int = 0,
    velocity: int = 90,
) -> Path:
    """Write one composition (1-D events) as a single-track MIDI file; returns the path."""
    if tempo_bpm <= 0:
        raise ValueError(f"tempo_bpm must be positive, got {tempo_bpm}")
    array = as_event_array(events)
    notes = events_to_notes(array)
    n_steps = int(array.shape[0])
    step_seconds = 60.0 / tempo_bpm / STEPS_PER_QUARTER
    midi = pretty_midi.PrettyMIDI(resolution=_RESOLUTION, initial_tempo=float(tempo_bpm))
    instrument = pretty_midi.Instrument(program=int(program))
    for note in notes:
        instrument.notes.append(
            pretty_midi.Note(
                velocity=int(velocity),
                pitch=note.pitch,
                start=note.start * step_seconds,
                end=note.end * step_seconds,
            )
        )
    midi.instruments.append(instrument)
    midi.text_events.append(pretty_midi.Text(END_MARKER, int(n_steps) * step_seconds))
    buffer = io.BytesIO()
    midi.write(buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


def read_midi(path: str | Path) -> pretty_midi.PrettyMIDI:
    """Parse a MIDI file, turning any parser failure into a one-line `MusicDataError`."""
    try:
        return pretty_midi.PrettyMIDI(str(path))
    except FileNotFoundError:
        raise MusicDataError(f"MIDI file {path} does not exist") from None
    except Exception as exc:  # mido/pretty_midi raise many types on corrupt files
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MusicDataError(f"cannot read MIDI file {path}: {reason}") from None


def midi_raw_notes(
    midi: pretty_midi.PrettyMIDI, *, instrument: int | None = None
) -> list[tuple[float, float, int]]:
    """(start, end, pitch) of one instrument's notes, times in (fractional) 16th steps.

    `instrument` indexes `midi.instruments`; by default the first non-drum instrument with notes.
    """
    candidates = [i for i, inst in enumerate(midi.instruments) if inst.notes and not inst.is_drum]
    if instrument is None:
        if not candidates:
            return []
        instrument = candidates[0]
    if not 0 <= instrument < len(midi.instruments):
        raise MusicDataError(
            f"MIDI file has {len(midi.instruments)} instruments, so instrument={instrument} "
            "does not exist; pass an index below that"
        )
    ticks_per_step = midi.resolution / STEPS_PER_QUARTER
    return [
        (
            midi.time_to_tick(note.start) / ticks_per_step,
            midi.time_to_tick(note.end) / ticks_per_step,
            int(note.pitch),
        )
        for note in midi.instruments[instrument].notes
    ]


def midi_end_step(midi: pretty_midi.PrettyMIDI) -> int:
    """The file's length in 16th steps (last note end or meta event, e.g. gmrl's end marker)."""
    ticks_per_step = midi.resolution / STEPS_PER_QUARTER
    return math.floor(midi.time_to_tick(midi.get_end_time()) / ticks_per_step + 0.5)


def midi_to_events_with_stats(
    path: str | Path,
    *,
    n_steps: int | None = None,
    out_of_range: OutOfRange = "fold",
    instrument: int | None = None,
) -> tuple[np.ndarray, EncodeStats]:
    """Events of a MIDI file plus the counts of what encoding changed (see `midi_to_events`)."""
    midi = read_midi(path)
    notes, stats = quantize(midi_raw_notes(midi, instrument=instrument))
    if n_steps is None:
        n_steps = max(midi_end_step(midi), max((n.end for n in notes), default=0))
    events, encode_stats = encode_notes(notes, n_steps, out_of_range=out_of_range)
    stats.add(encode_stats)
    return events, stats


def midi_to_events(
    path: str | Path,
    *,
    n_steps: int | None = None,
    out_of_range: OutOfRange = "fold",
    instrument: int | None = None,
) -> np.ndarray:
    """Encode a MIDI file's melody as int64 events (length `n_steps`, default the file's length).

    The first non-drum instrument with notes is read unless `instrument` is given; overlapping
    notes keep the highest, onsets are rounded to the 16th grid, out-of-range pitches are folded
    (or dropped with `out_of_range="drop"`).
    """
    return midi_to_events_with_stats(
        path, n_steps=n_steps, out_of_range=out_of_range, instrument=instrument
    )[0]
