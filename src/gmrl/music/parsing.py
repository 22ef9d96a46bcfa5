"""Read melody files (MusicXML, ABC, MIDI) into RL Tuner event arrays, one work unit per file.

A unit is one file; `parse_unit` never raises: a file that cannot be read comes back with an
`error`, a tune inside a multi-tune ABC file that cannot be read is counted in `tunes_skipped`,
so one bad file or tune never stops a corpus build. It runs in worker processes, so it takes and
returns only plain picklable values (in memory; nothing here reads a pickle from disk: music21 is
called with `forceSource=True, storePickle=False`).

The melody of a score is its part named Soprano, else its first part; ties are merged, a chord
keeps its highest note, a pickup bar is padded so bar lines fall on multiples of the bar length.
Transposition to C major / A minor uses a Krumhansl-Schmuckler key estimate on the melody's
duration-weighted pitch classes (the analysis music21's `analyze('key')` runs), then picks the
octave that puts most notes inside the encodable range.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gmrl.music.encoding import (
    MAX_PITCH,
    MIN_PITCH,
    STEPS_PER_QUARTER,
    EncodeStats,
    OutOfRange,
    encode_notes,
    quantize,
)

RawNote = tuple[float, float, int]
"""(start, end, MIDI pitch) with times in fractional 16th steps."""

MIDI_SUFFIXES = (".mid", ".midi")
MUSIC21_SUFFIXES = (".xml", ".mxl", ".musicxml")
ABC_SUFFIXES = (".abc",)
SUFFIXES = MIDI_SUFFIXES + MUSIC21_SUFFIXES + ABC_SUFFIXES

# Krumhansl-Kessler key profiles (major, minor), tonic first.
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


@dataclass
class UnitResult:
    """What one file gave: melodies (names + int8 events), encoding counts, or an error."""

    path: str
    names: list[str] = field(default_factory=list)
    events: list[np.ndarray] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    tunes_skipped: int = 0
    empty: int = 0
    error: str | None = None


def estimate_key(notes: list[RawNote]) -> tuple[int, str]:
    """(tonic pitch class, "major" | "minor") by Krumhansl-Schmuckler correlation."""
    histogram = np.zeros(12)
    for start, end, pitch in notes:
        histogram[pitch % 12] += max(end - start, 1e-3)
    if not histogram.any():
        return 0, "major"
    best = (-2.0, 0, "major")
    for mode, profile in (("major", _MAJOR), ("minor", _MINOR)):
        for tonic in range(12):
            rotated = np.roll(profile, tonic)
            score = float(np.corrcoef(histogram, rotated)[0, 1]) if histogram.std() > 0 else 0.0
            if score > best[0]:
                best = (score, tonic, mode)
    return best[1], best[2]


def transposition(notes: list[RawNote]) -> int:
    """Semitones that move the melody to C major (or A minor) and best into MIN..MAX_PITCH."""
    if not notes:
        return 0
    tonic, mode = estimate_key(notes)
    base = ((0 if mode == "major" else 9) - tonic) % 12
    pitches = np.array([pitch for _, _, pitch in notes])
    centre = (MIN_PITCH + MAX_PITCH) / 2

    def fit(shift: int) -> tuple[int, float]:
        moved = pitches + shift
        inside = int(((moved >= MIN_PITCH) & (moved <= MAX_PITCH)).sum())
        return inside, -abs(float(moved.mean()) - centre)

    return max((base + 12 * k for k in range(-6, 6)), key=fit)


def encode_melody(
    notes: list[RawNote], *, transpose: bool, out_of_range: OutOfRange
) -> tuple[np.ndarray, EncodeStats]:
    """Transpose (optionally), quantise and encode one melody's raw notes."""
    shift = transposition(notes) if transpose else 0
    quantised, stats = quantize([(s, e, p + shift) for s, e, p in notes])
    events, encode_stats = encode_notes(quantised, out_of_range=out_of_range)
    stats.add(encode_stats)
    return events, stats


def _select_part(score: Any) -> Any:
    parts = list(getattr(score, "parts", []))
    if not parts:
        return score
    for part in parts:
        label = f"{part.partName or ''} {part.id or ''}".lower()
        if "soprano" in label:
            return part
    return parts[0]


def music21_raw_notes(score: Any) -> list[RawNote]:
    """The melody line of a music21 Score/Part as raw notes (see the module docstring)."""
    part = _select_part(score)
    measures = part.recurse().getElementsByClass("Measure")
    first = measures.first() if measures else None
    pickup = float(first.paddingLeft) if first is not None and first.paddingLeft else 0.0
    notes: list[RawNote] = []
    for element in part.stripTies().flatten().notes:
        pitches = [p.midi for p in getattr(element, "pitches", ())]
        if not pitches:
            continue
        start = (float(element.offset) + pickup) * STEPS_PER_QUARTER
        end = start + float(element.quarterLength) * STEPS_PER_QUARTER
        notes.append((start, end, int(max(pitches))))
    return notes


def abc_tunes(text: str) -> list[str]:
    """Split an ABC file into its tunes (each starts with an `X:` line); one block if none.

    Field lines of the file header (before the first tune, e.g. a default `L:`) apply to every
    tune, so they are repeated in front of each block.
    """
    pieces = re.split(r"(?m)^(?=X:)", text)
    blocks = [b for b in pieces if b.lstrip().startswith("X:")]
    if not blocks:
        return [text]
    header = "" if pieces[0].lstrip().startswith("X:") else pieces[0]
    fields = "".join(line + "\n" for line in header.splitlines() if re.match(r"[A-Za-z]:", line))
    return [fields + block for block in blocks]


def _tune_label(block: str, index: int) -> str:
    match = re.search(r"(?m)^X:\s*(\S+)", block)
    return match.group(1) if match else str(index + 1)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def read_file_melodies(path: Path) -> list[tuple[str, list[RawNote]]]:
    """(label, raw notes) per melody of a MIDI or MusicXML file; raises if it is unreadable.

    A MIDI or MusicXML file holds one melody (label ""); an opus holds several ("#1", "#2"...).
    ABC files go through `read_abc`, which parses tune by tune.
    """
    suffix = path.suffix.lower()
    if suffix in MIDI_SUFFIXES:
        from gmrl.music.midi import midi_raw_notes, read_midi

        return [("", midi_raw_notes(read_midi(path)))]
    from music21 import converter

    parsed = converter.parse(path, forceSource=True, storePickle=False)
    scores = list(parsed.scores) if hasattr(parsed, "scores") and parsed.scores else [parsed]
    return [
        (f"#{i + 1}" if len(scores) > 1 else "", music21_raw_notes(s)) for i, s in enumerate(scores)
    ]


def read_abc(path: Path) -> tuple[list[tuple[str, list[RawNote]]], int]:
    """Tunes of an ABC file parsed one by one: ((label, notes) list, number of failed tunes)."""
    from music21 import converter

    text = path.read_text(encoding="latin-1")
    tunes: list[tuple[str, list[RawNote]]] = []
    failed = 0
    for index, block in enumerate(abc_tunes(text)):
        try:
            score = converter.parse(block, format="abc", forceSource=True, storePickle=False)
            tunes.append((f"#{_tune_label(block, index)}", music21_raw_notes(score)))
        except Exception:  # music21 raises many types on malformed tunes
            failed += 1
    if not tunes and failed:
        raise ValueError(f"none of its {failed} ABC tunes could be parsed")
    return tunes, failed


def parse_unit(path: str, name: str, transpose: bool, out_of_range: OutOfRange) -> UnitResult:
    """Parse one file into encoded melodies named `name` (+ `#tune` for multi-tune files)."""
    result = UnitResult(path=path)
    total = EncodeStats()
    try:
        file = Path(path)
        if file.suffix.lower() in ABC_SUFFIXES:
            melodies, result.tunes_skipped = read_abc(file)
        else:
            melodies = read_file_melodies(file)
        for label, notes in melodies:
            events, stats = encode_melody(notes, transpose=transpose, out_of_range=out_of_range)
            total.add(stats)
            if stats.notes == 0:
                result.empty += 1
                continue
            result.names.append(name + label)
            result.events.append(events.astype(np.int8))
    except Exception as exc:  # a bad file is reported, never fatal
        return UnitResult(path=path, error=_first_line(exc))
    result.stats = total.as_dict()
    return result
