"""RL Tuner event encoding: hand-made melodies with rests, holds, repeats and out-of-range notes."""

import numpy as np
import pytest
import torch

from gmrl.music.encoding import (
    FIRST_NOTE,
    MAX_PITCH,
    MIN_PITCH,
    NO_EVENT,
    NOTE_OFF,
    NUM_EVENTS,
    MusicDataError,
    Note,
    canonical,
    encode_notes,
    event_to_pitch,
    events_to_notes,
    fold_pitch,
    notes_to_events,
    pitch_to_event,
    quantize,
)

C4, D4, E4, G4 = 60, 62, 64, 67


def test_constants_and_pitch_mapping() -> None:
    assert (NOTE_OFF, NO_EVENT, FIRST_NOTE, NUM_EVENTS) == (0, 1, 2, 38)
    assert pitch_to_event(MIN_PITCH) == 2 and pitch_to_event(MAX_PITCH) == 37
    assert pitch_to_event(C4) == 14 and event_to_pitch(14) == C4
    assert all(event_to_pitch(pitch_to_event(p)) == p for p in range(MIN_PITCH, MAX_PITCH + 1))
    for bad in (MIN_PITCH - 1, MAX_PITCH + 1):
        with pytest.raises(ValueError):
            pitch_to_event(bad)
    for bad in (NOTE_OFF, NO_EVENT, NUM_EVENTS):
        with pytest.raises(ValueError):
            event_to_pitch(bad)


def test_rest_hold_and_repeated_notes_encode_as_documented() -> None:
    notes = [
        Note(C4, 0, 2),  # held for two steps
        Note(C4, 2, 3),  # repeated pitch right after: a second note-on, no NOTE_OFF
        Note(E4, 3, 4),  # a different note right after: no NOTE_OFF
        Note(G4, 6, 8),  # after a two-step rest: NOTE_OFF at the rest's first step, then NO_EVENT
    ]
    events = notes_to_events(notes, 10)
    on, hold, off = pitch_to_event, NO_EVENT, NOTE_OFF
    expected = [on(C4), hold, on(C4), on(E4), off, hold, on(G4), hold, off, hold]
    assert events.tolist() == expected
    assert events.dtype == np.int64
    assert events_to_notes(events) == notes


def test_leading_rest_is_no_event_and_note_running_to_the_end_needs_no_note_off() -> None:
    notes = [Note(D4, 3, 5), Note(E4, 5, 8)]
    events = notes_to_events(notes, 8)
    on, hold = pitch_to_event, NO_EVENT
    assert events.tolist() == [hold, hold, hold, on(D4), hold, on(E4), hold, hold]
    assert events_to_notes(events) == notes
    assert notes_to_events(notes).shape == (8,)  # default length: the last note's end


def test_events_round_trip_for_random_canonical_sequences() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        events = rng.integers(0, NUM_EVENTS, size=int(rng.integers(1, 40)))
        canon = canonical(events)
        # decoding and re-encoding a canonical sequence is the identity
        assert np.array_equal(notes_to_events(events_to_notes(canon), len(canon)), canon)
        # and a non-canonical one sounds the same once canonicalised
        assert events_to_notes(canon) == events_to_notes(events)


def test_redundant_note_off_is_a_no_op() -> None:
    events = [NOTE_OFF, pitch_to_event(C4), NOTE_OFF, NOTE_OFF, NO_EVENT]
    assert events_to_notes(events) == [Note(C4, 1, 2)]
    expected = [NO_EVENT, pitch_to_event(C4), NOTE_OFF, NO_EVENT, NO_EVENT]
    assert canonical(events).tolist() == expected


def test_out_of_range_notes_are_folded_by_default_or_dropped_and_counted() -> None:
    notes = [Note(36, 0, 2), Note(C4, 2, 4), Note(96, 4, 6)]
    events, stats = encode_notes(notes, 6)
    assert events_to_notes(events) == [Note(48, 0, 2), Note(C4, 2, 4), Note(72, 4, 6)]
    assert (stats.folded, stats.dropped_range, stats.notes) == (2, 0, 3)
    assert fold_pitch(35) == 59 and fold_pitch(84) == 72 and fold_pitch(MIN_PITCH) == MIN_PITCH

    events, stats = encode_notes(notes, 6, out_of_range="drop")
    assert events_to_notes(events) == [Note(C4, 2, 4)]
    assert events.tolist()[:2] == [NO_EVENT, NO_EVENT] and events[4] == NOTE_OFF
    assert (stats.folded, stats.dropped_range, stats.notes) == (0, 2, 1)


def test_overlapping_notes_keep_the_highest_and_are_counted() -> None:
    # a chord at step 0 (keep G4), then a lower note starting inside a sounding higher one (dropped)
    notes = [Note(C4, 0, 4), Note(G4, 0, 4), Note(D4, 2, 6), Note(E4, 6, 8)]
    events, stats = encode_notes(notes, 8)
    assert events_to_notes(events) == [Note(G4, 0, 4), Note(E4, 6, 8)]
    assert stats.dropped_overlap == 2
    # a higher note starting inside a sounding lower one cuts it
    events, stats = encode_notes([Note(C4, 0, 8), Note(G4, 4, 6)], 8)
    assert events_to_notes(events) == [Note(C4, 0, 4), Note(G4, 4, 6)]
    assert stats.dropped_overlap == 0


def test_notes_beyond_n_steps_are_clipped() -> None:
    events, stats = encode_notes([Note(C4, 0, 6), Note(E4, 6, 10)], 4)
    assert events.tolist() == [pitch_to_event(C4)] + [NO_EVENT] * 3
    assert stats.dropped_short == 1


def test_quantize_rounds_onsets_drops_zero_length_and_cuts_legato() -> None:
    # (start, end, pitch) in fractional 16th steps
    raw = [
        (0.1, 1.9, C4),  # -> [0, 2)
        (1.8, 4.2, D4),  # legato overlap within tolerance cuts the previous note -> [2, 4)
        (4.2, 4.4, E4),  # a 32nd-ish note rounding to zero length: dropped
        (4.6, 8.0, G4),  # -> [5, 8)
    ]
    notes, stats = quantize(raw)
    assert notes == [Note(C4, 0, 2), Note(D4, 2, 4), Note(G4, 5, 8)]
    assert stats.dropped_short == 1 and stats.dropped_overlap == 0


def test_bad_events_raise_one_line_errors() -> None:
    with pytest.raises(MusicDataError, match=r"outside 0\.\.37"):
        events_to_notes([2, 40])
    with pytest.raises(MusicDataError, match="integers"):
        events_to_notes([2.5, 1.0])
    with pytest.raises(MusicDataError, match="1-D"):
        events_to_notes(np.ones((2, 3), dtype=np.int64))


def test_torch_tensors_are_accepted() -> None:
    events = torch.tensor([pitch_to_event(C4), NO_EVENT, NOTE_OFF])
    assert events_to_notes(events) == [Note(C4, 0, 2)]
