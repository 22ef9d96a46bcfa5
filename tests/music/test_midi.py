"""MIDI I/O: events -> MIDI -> events is the identity, including rests, holds and repeats."""

from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from gmrl.music.encoding import NO_EVENT, NOTE_OFF, MusicDataError, Note, notes_to_events
from gmrl.music.encoding import pitch_to_event as on
from gmrl.music.midi import events_to_midi, midi_to_events, midi_to_events_with_stats

HOLD, OFF = NO_EVENT, NOTE_OFF
# leading rest, held note, repeated pitches, rests, the range's ends, a trailing rest
BARS = [
    [HOLD, on(60), HOLD, HOLD, on(60), on(62), OFF, HOLD],
    [on(64), on(64), on(64), HOLD, on(83), on(48), HOLD, HOLD],
    [on(67), HOLD, HOLD, HOLD, OFF, HOLD, on(72), HOLD],
    [HOLD, HOLD, on(71), OFF, HOLD, HOLD, HOLD, HOLD],
]
MELODY = np.array([event for bar in BARS for event in bar], dtype=np.int64)


@pytest.mark.parametrize("tempo", [120.0, 97.0])
def test_events_midi_events_is_the_identity(tmp_path: Path, tempo: float) -> None:
    path = events_to_midi(MELODY, tmp_path / "melody.mid", tempo_bpm=tempo, program=73)
    midi = pretty_midi.PrettyMIDI(str(path))
    assert midi.instruments[0].program == 73
    assert len(midi.instruments[0].notes) == int((MELODY >= 2).sum())
    assert np.array_equal(midi_to_events(path), MELODY)


def test_midi_events_midi_events_is_the_identity(tmp_path: Path) -> None:
    # a MIDI file written by someone else: off-grid timings, a chord, a long tail
    midi = pretty_midi.PrettyMIDI(initial_tempo=90)
    piano = pretty_midi.Instrument(program=0)
    beat = 60 / 90
    for pitch, start, end in [(60, 0.0, 1.02), (64, 1.0, 1.5), (67, 1.0, 1.5), (65, 2.0, 3.49)]:
        piano.notes.append(pretty_midi.Note(80, pitch, start * beat, end * beat))
    midi.instruments.append(pretty_midi.Instrument(program=0, is_drum=True))
    midi.instruments[0].notes.append(pretty_midi.Note(80, 36, 0.0, 0.1))
    midi.instruments.append(piano)
    source = tmp_path / "source.mid"
    midi.write(str(source))

    events, stats = midi_to_events_with_stats(source)
    assert stats.dropped_overlap == 1  # the chord kept its highest note
    expected = [Note(60, 0, 4), Note(67, 4, 6), Note(65, 8, 14)]
    assert np.array_equal(events, notes_to_events(expected, 14))

    again = midi_to_events(events_to_midi(events, tmp_path / "again.mid"))
    assert np.array_equal(again, events)


def test_n_steps_pads_or_clips(tmp_path: Path) -> None:
    path = events_to_midi(MELODY, tmp_path / "m.mid")
    assert np.array_equal(midi_to_events(path, n_steps=40)[:32], MELODY)
    assert midi_to_events(path, n_steps=40)[32:].tolist() == [HOLD] * 8
    assert np.array_equal(midi_to_events(path, n_steps=16), MELODY[:16])


def test_garbage_midi_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd this is not a midi file")
    with pytest.raises(MusicDataError, match="cannot read MIDI file") as info:
        midi_to_events(bad)
    assert "\n" not in str(info.value)
    with pytest.raises(MusicDataError, match="does not exist"):
        midi_to_events(tmp_path / "missing.mid")
