"""RL Tuner's melody encoding: one event per 16th-note step, 38 classes.

Jaques et al. (2017) encode a monophonic melody as one event per 16th note: 0 = NOTE_OFF (the
sounding note stops), 1 = NO_EVENT (hold the previous note, or continue a rest), 2..37 = note-on
of MIDI pitch 48..83 (event = pitch - 46). Conventions used here, so that encoding is a function:

- a rest after a note is NOTE_OFF at the rest's first step, then NO_EVENT;
- a rest at the very start is NO_EVENT (there is nothing to turn off);
- a note directly followed by another needs no NOTE_OFF (the new note-on ends it);
- a held note is its note-on followed by NO_EVENT steps; a repeated pitch is a second note-on.

Notes are `Note(pitch, start, end)` in 16th steps (end exclusive). Pitches outside 48..83 are
octave-folded into range (default) or dropped, and overlapping notes are made monophonic by
keeping the highest; every such change is counted in `EncodeStats`.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np

from gmrl.core.errors import GmrlError

NOTE_OFF = 0
NO_EVENT = 1
FIRST_NOTE = 2
MIN_PITCH = 48
MAX_PITCH = 83
NUM_EVENTS = 38
STEPS_PER_QUARTER = 4
COMPOSITION_STEPS = 32
ENCODING_VERSION = 1
"""Bumped whenever encoding or parsing changes, so cached corpora are rebuilt."""

OutOfRange = Literal["fold", "drop"]


class MusicDataError(GmrlError):
    """A melody, event array, MIDI or token file that cannot be used."""


@dataclass(frozen=True)
class Note:
    """One note: MIDI `pitch`, sounding on 16th steps `start` <= t < `end`."""

    pitch: int
    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start < 0 or self.end <= self.start:
            raise ValueError(f"note needs 0 <= start < end, got start={self.start} end={self.end}")


@dataclass
class EncodeStats:
    """Counts of what encoding changed: notes kept, folded, dropped (and why)."""

    notes: int = 0
    folded: int = 0
    dropped_range: int = 0
    dropped_overlap: int = 0
    dropped_short: int = 0

    def add(self, other: "EncodeStats") -> None:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    def as_dict(self) -> dict[str, int]:
        return {field.name: int(getattr(self, field.name)) for field in fields(self)}


def pitch_to_event(pitch: int) -> int:
    """Note-on event of MIDI `pitch` (48..83 -> 2..37)."""
    if not MIN_PITCH <= pitch <= MAX_PITCH:
        raise ValueError(f"pitch {pitch} outside the encodable range {MIN_PITCH}..{MAX_PITCH}")
    return int(pitch) - MIN_PITCH + FIRST_NOTE


def event_to_pitch(event: int) -> int:
    """MIDI pitch of note-on `event` (2..37 -> 48..83); NOTE_OFF / NO_EVENT have no pitch."""
    if not FIRST_NOTE <= event < NUM_EVENTS:
        raise ValueError(
            f"event {event} is not a note-on (note-ons are {FIRST_NOTE}..{NUM_EVENTS - 1})"
        )
    return int(event) - FIRST_NOTE + MIN_PITCH


def fold_pitch(pitch: int) -> int:
    """Move `pitch` by whole octaves into MIN_PITCH..MAX_PITCH (the range spans three octaves)."""
    while pitch < MIN_PITCH:
        pitch += 12
    while pitch > MAX_PITCH:
        pitch -= 12
    return pitch


def monophonic(
    notes: Iterable[tuple[float, float, int]], *, tolerance: float = 0.0
) -> tuple[list[tuple[float, float, int]], int]:
    """Make (start, end, pitch) notes a single line; returns (notes, number dropped).

    Sorted by onset; at equal onsets the highest pitch is kept. A note that starts while the
    previous one sounds (by more than `tolerance`) is a real overlap: the higher note wins (the
    previous note is cut at the new onset, or the new lower note is dropped). Overlaps within
    `tolerance` (legato from quantisation or performance) just cut the previous note.
    """
    ordered = sorted(notes, key=lambda n: (n[0], -n[2]))
    kept: list[tuple[float, float, int]] = []
    dropped = 0
    for start, end, pitch in ordered:
        if not kept:
            kept.append((start, end, pitch))
            continue
        prev_start, prev_end, prev_pitch = kept[-1]
        if start <= prev_start:  # same onset: the earlier-sorted note is the higher one
            dropped += 1
        elif start < prev_end - tolerance:  # genuine overlap: keep the higher line
            if pitch > prev_pitch:
                kept[-1] = (prev_start, start, prev_pitch)
                kept.append((start, end, pitch))
            else:
                dropped += 1
        else:
            kept[-1] = (prev_start, min(prev_end, start), prev_pitch)
            kept.append((start, end, pitch))
    return kept, dropped


def quantize(
    notes: Iterable[tuple[float, float, int]], *, overlap_tolerance: float = 0.5
) -> tuple[list[Note], EncodeStats]:
    """Snap (start, end, pitch) notes given in (fractional) 16th steps onto the 16th grid.

    The line is made monophonic first (see `monophonic`), then onsets and ends are rounded half
    up; notes that become zero-length (shorter than the grid resolves) are dropped and counted.
    Rounding is monotonic, so the result never overlaps. Pitches are left as they are.
    """
    stats = EncodeStats()
    line, stats.dropped_overlap = monophonic(notes, tolerance=overlap_tolerance)
    out: list[Note] = []
    for start, end, pitch in line:
        q_start, q_end = int(np.floor(start + 0.5)), int(np.floor(end + 0.5))
        if q_start < 0 or q_end <= q_start:
            stats.dropped_short += 1
            continue
        out.append(Note(int(pitch), q_start, q_end))
    return out, stats


def fit_to_range(
    notes: Iterable[Note], out_of_range: OutOfRange = "fold"
) -> tuple[list[Note], EncodeStats]:
    """Fold (or drop) notes whose pitch lies outside MIN_PITCH..MAX_PITCH; counts in the stats."""
    if out_of_range not in ("fold", "drop"):
        raise ValueError(f"out_of_range must be 'fold' or 'drop', got {out_of_range!r}")
    stats = EncodeStats()
    out: list[Note] = []
    for note in notes:
        if MIN_PITCH <= note.pitch <= MAX_PITCH:
            out.append(note)
        elif out_of_range == "fold":
            out.append(Note(fold_pitch(note.pitch), note.start, note.end))
            stats.folded += 1
        else:
            stats.dropped_range += 1
    return out, stats


def encode_notes(
    notes: Iterable[Note], n_steps: int | None = None, *, out_of_range: OutOfRange = "fold"
) -> tuple[np.ndarray, EncodeStats]:
    """Events (int64, length `n_steps`, default: the last note's end) plus what was changed.

    Overlapping notes are made monophonic (highest wins), out-of-range pitches folded or dropped,
    and notes are clipped to `n_steps` (a note starting at or after `n_steps` is dropped as short).
    """
    fitted, stats = fit_to_range(notes, out_of_range)
    line, stats.dropped_overlap = monophonic((n.start, n.end, n.pitch) for n in fitted)
    if n_steps is None:
        n_steps = int(max((end for _, end, _ in line), default=0))
    if n_steps < 0:
        raise ValueError(f"n_steps must be >= 0, got {n_steps}")
    events = np.full(n_steps, NO_EVENT, dtype=np.int64)
    previous_end: int | None = None
    for start, end, pitch in line:
        start, end = int(start), int(min(end, n_steps))
        if start >= n_steps or end <= start:
            stats.dropped_short += 1
            continue
        if previous_end is not None and previous_end < start:
            events[previous_end] = NOTE_OFF
        events[start] = pitch_to_event(int(pitch))
        previous_end = end
        stats.notes += 1
    if previous_end is not None and previous_end < n_steps:
        events[previous_end] = NOTE_OFF
    return events, stats


def notes_to_events(
    notes: Iterable[Note], n_steps: int | None = None, *, out_of_range: OutOfRange = "fold"
) -> np.ndarray:
    """Encode notes as an int64 event array of length `n_steps` (see `encode_notes`)."""
    return encode_notes(notes, n_steps, out_of_range=out_of_range)[0]


def as_event_array(events: Any) -> np.ndarray:
    """`events` (list, numpy array or CPU tensor, 1-D or 2-D) as int64 numpy, values checked."""
    try:
        array = np.asarray(events.detach().cpu() if hasattr(events, "detach") else events)
    except (TypeError, ValueError) as exc:
        raise MusicDataError(f"events must be a sequence of integers: {exc}") from None
    if array.size == 0:
        return array.astype(np.int64).reshape(array.shape)
    whole = np.issubdtype(array.dtype, np.integer) or (
        np.issubdtype(array.dtype, np.floating) and bool(np.all(np.round(array) == array))
    )
    if not whole:
        raise MusicDataError(f"events must be integers, got dtype {array.dtype}")
    array = array.astype(np.int64)
    bad = (array < 0) | (array >= NUM_EVENTS)
    if bad.any():
        raise MusicDataError(
            f"event {int(array[bad].flat[0])} outside 0..{NUM_EVENTS - 1} "
            "(0 = note off, 1 = no event, 2..37 = MIDI pitch 48..83)"
        )
    return array


def events_to_notes(events: Sequence[int] | np.ndarray | Any) -> list[Note]:
    """Decode a 1-D event sequence into notes (NOTE_OFF during a rest is a no-op)."""
    array = as_event_array(events)
    if array.ndim != 1:
        raise MusicDataError(
            f"events_to_notes takes one composition (1-D), got shape {array.shape}"
        )
    notes: list[Note] = []
    pitch, start = -1, 0
    for step, event in enumerate(array.tolist()):
        if event == NO_EVENT:
            continue
        if pitch >= 0:
            notes.append(Note(pitch, start, step))
            pitch = -1
        if event >= FIRST_NOTE:
            pitch, start = event - FIRST_NOTE + MIN_PITCH, step
    if pitch >= 0:
        notes.append(Note(pitch, start, len(array)))
    return notes


def canonical(events: Sequence[int] | np.ndarray) -> np.ndarray:
    """The unique encoding of what `events` sound like (redundant NOTE_OFFs become NO_EVENT)."""
    array = as_event_array(events)
    return notes_to_events(events_to_notes(array), len(array))
