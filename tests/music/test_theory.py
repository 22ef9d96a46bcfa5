"""The batched RL Tuner detectors: hand-made cases and agreement with the scalar restatement."""

import numpy as np
import pytest
import torch

from gmrl.music import theory
from gmrl.music.encoding import MusicDataError

C4, D4, E4, F4, Fs4, G4, A4, B4, C5 = 14, 16, 18, 19, 20, 21, 23, 25, 26
OFF, HOLD = 0, 1


def ev(*rows: list[int]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.long)


def test_as_events_accepts_arrays_lists_and_tensors_and_refuses_bad_input():
    assert theory.as_events(np.array([[2, 3]], dtype=np.int32)).dtype == torch.long
    assert theory.as_events([[0, 1, 37]]).tolist() == [[0, 1, 37]]
    with pytest.raises(MusicDataError, match=r"0\.\.37"):
        theory.as_events([[0, 38]])
    with pytest.raises(MusicDataError, match="shape"):
        theory.as_events(torch.zeros(32, dtype=torch.long))
    with pytest.raises(MusicDataError, match="integer"):
        theory.as_events(np.zeros((2, 3)))


def test_not_in_key_flags_only_out_of_key_note_ons():
    flags = theory.not_in_key(ev([C4, D4, E4, F4, Fs4, G4, OFF, HOLD, 3]))
    assert flags.tolist() == [[False, False, False, False, True, False, False, False, True]]


def test_repeats_of_one_note_are_excessive_from_the_sixth_on():
    flags = theory.excessive_repeats(ev([C4] * 16))[0]
    assert flags.nonzero().flatten().tolist() == list(range(5, 16))


def test_holds_between_repeats_allow_seven_and_a_long_hold_counts_as_repetition():
    with_holds = theory.excessive_repeats(ev([C4, HOLD] * 8))[0]
    assert with_holds.nonzero().flatten().tolist() == [14]  # the 8th C4: 7 earlier ones
    long_hold = theory.excessive_repeats(ev([C4] + [HOLD] * 9))[0]
    assert long_hold.nonzero().flatten().tolist() == [6, 7, 8, 9]  # > 4 earlier holds


def test_a_third_rest_in_a_row_is_excessive_but_rests_split_by_a_hold_after_one_are_not():
    assert theory.excessive_repeats(ev([C4, OFF, OFF, OFF]))[0].tolist() == [0, 0, 0, 1]
    assert theory.excessive_repeats(ev([C4, OFF, HOLD, OFF]))[0].tolist() == [0, 0, 0, 0]
    # a different note stops the scan back
    assert not theory.excessive_repeats(ev([C4] * 5 + [D4] + [C4]))[0].any()


def test_motif_counts_distinct_notes_of_the_last_bar():
    scale = ev([C4, D4, E4, F4, G4, A4, B4, C5])
    assert theory.motif_notes(scale)[0].tolist() == [0] * 7 + [8]
    sparse = ev([C4, HOLD, HOLD, OFF, D4, HOLD, HOLD, E4, C4])
    assert theory.motif_notes(sparse)[0].tolist() == [0] * 7 + [3, 3]
    assert theory.motif_notes(ev([C4, D4] * 8))[0].max() == 2


def test_repeated_motif_needs_the_bar_entirely_before_and_three_notes():
    bar = [C4, D4, E4, HOLD, HOLD, HOLD, OFF, HOLD]
    flags = theory.repeated_motif(ev(bar * 4))[0]
    assert flags.nonzero().flatten().tolist() == list(range(15, 32))
    two_notes = [C4, D4, HOLD, HOLD, HOLD, HOLD, OFF, HOLD]
    assert not theory.repeated_motif(ev(two_notes * 4)).any()
    # a bar that overlaps its earlier occurrence does not count
    assert not theory.repeated_motif(ev([C4, D4, E4] * 5)).any()


def test_interval_classes_follow_rl_tuner_codes():
    pairs = {
        (C4, G4): theory.IN_KEY_FIFTH,
        (G4, C4 + 14): theory.IN_KEY_FIFTH,  # G4 -> D5, a fifth up from the fifth
        (C4, E4): theory.IN_KEY_THIRD,
        (D4, Fs4): 4,
        (D4, A4): 7,
        (C4, C5): 12,
        (C4, HOLD): theory.HOLD_AFTER_TONIC_OR_FIFTH,
        (D4, HOLD): theory.HOLD,
        (G4, OFF): theory.REST_AFTER_TONIC_OR_FIFTH,
        (D4, OFF): theory.REST,
        (HOLD, C4): theory.NO_INTERVAL,
    }
    for (a, b), code in pairs.items():
        assert theory.interval_classes(ev([a, b]))[0].tolist() == [theory.NO_INTERVAL, code]
    # rests are skipped back to the last note
    assert theory.interval_classes(ev([C4, OFF, HOLD, D4]))[0, -1] == 2


def test_leaps_resolve_gradually_late_or_not_at_all():
    stepwise = ev([C4, A4, G4, F4, E4, D4, C4])
    assert theory.leap_outcomes(stepwise)[0].tolist() == [0, 0, 0, 0, 0, 0, 1]
    assert theory.leap_outcomes(ev([C4, A4, A4 + 9]))[0].tolist() == [0, 0, -1]
    # leaping straight back clears the leap without resolving it
    assert theory.leap_outcomes(ev([C4, A4, C4, D4, B4 - 12]))[0].tolist() == [0] * 5
    late = ev([C4, A4] + [HOLD] * 7 + [C4])
    assert theory.leap_outcomes(late)[0, -1] == theory.LEAP_RESOLVED


def test_autocorrelation_matches_rl_tuner_ops_definition():
    alternating = ev([C4, D4] * 16)
    assert theory.autocorrelation(alternating, 1).item() == pytest.approx(-31 / 32)
    assert theory.autocorrelation(alternating, 2).item() == pytest.approx(30 / 32)
    assert torch.isnan(theory.autocorrelation(ev([C4] * 8), 1)).all()
    prefix = theory.prefix_autocorrelation(alternating, 1)[0]
    assert torch.isnan(prefix[0]) and prefix[1].item() == pytest.approx(-0.5)


def test_unique_extrema():
    assert theory.unique_high(ev([C4, D4, C5, HOLD])).item()
    assert not theory.unique_high(ev([C4, C5, C5])).item()
    assert not theory.unique_high(ev([HOLD, HOLD])).item()
    assert theory.unique_low(ev([D4, C4, C5, OFF, OFF])).item()
    assert not theory.unique_low(ev([C4, C4, C5])).item()
    assert not theory.unique_low(ev([HOLD, OFF])).item()


def test_every_detector_agrees_with_the_scalar_restatement(melodies, reference_steps):
    x = theory.as_events(melodies)
    expected = reference_steps

    def column(key: str) -> np.ndarray:
        return np.array([[step[key] for step in row] for row in expected])

    np.testing.assert_array_equal(theory.excessive_repeats(x).numpy(), column("repeating_flag"))
    np.testing.assert_array_equal(theory.motif_notes(x).numpy() >= 3, column("motif_flag"))
    np.testing.assert_array_equal(theory.repeated_motif(x).numpy(), column("repeated_motif_flag"))
    np.testing.assert_array_equal(theory.leap_outcomes(x).numpy(), column("leap_outcome"))
    # the generator must exercise every rule, or agreement proves little
    assert column("repeated_motif_flag").sum() > 50 and (column("leap_outcome") == -1).sum() > 20
    assert (column("leap_outcome") == 1).sum() > 20 and column("repeating_flag").sum() > 50


def test_next_excessive_repeats_is_excessive_repeats_of_for_the_next_step() -> None:
    """The vectorised one-step version agrees with the scan of every candidate, on melodies
    dense in holds, rests and a few repeated pitches (so every branch fires)."""
    g = torch.Generator().manual_seed(0)
    shape = (400, 32)
    kind = torch.rand(shape, generator=g)
    few = torch.randint(0, 3, shape, generator=g) + 14
    many = torch.randint(2, 38, shape, generator=g)
    notes = torch.where(kind < 0.85, few, many)
    x = torch.where(kind < 0.35, 1, torch.where(kind < 0.45, 0, notes))
    full = theory.excessive_repeats_of(x, torch.arange(38))
    assert int(full[..., 0].sum()) and int(full[..., 1].sum()) and int(full[..., 2:].sum())
    for t in range(32):
        assert torch.equal(theory.next_excessive_repeats(x[:, :t]), full[:, t]), t


def test_next_motif_agrees_with_the_bar_rules_on_every_substituted_event() -> None:
    """Melodies built from five bars (so bars repeat often), with some noise: for every event
    at every step, the one-step counts and repeated-bar flags equal `motif_notes` and
    `repeated_motif` of the prefix plus that event."""
    g = torch.Generator().manual_seed(0)
    bars = torch.randint(0, 38, (5, 8), generator=g)
    bars[:, ::2] = torch.randint(14, 20, (5, 4), generator=g)
    x = bars[torch.randint(0, 5, (120, 4), generator=g)].reshape(120, 32)
    x = torch.where(torch.rand(120, 32, generator=g) < 0.1,
                    torch.randint(0, 38, (120, 32), generator=g), x)
    flagged = 0
    for t in range(32):
        counts, repeated = theory.next_motif(x[:, :t])
        candidates = x[:, : t + 1].repeat_interleave(38, dim=0)
        candidates[:, t] = torch.arange(38).repeat(120)
        expected_counts = theory.motif_notes(candidates)[:, t].view(120, 38)
        expected_repeated = theory.repeated_motif(candidates)[:, t].view(120, 38)
        assert torch.equal(counts, expected_counts), t
        assert torch.equal(repeated, expected_repeated), t
        flagged += int(repeated.sum())
    assert flagged > 50
