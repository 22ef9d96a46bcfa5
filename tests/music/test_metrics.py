"""RL Tuner's Table 1 statistics, pitch statistics and diversity on melodies with known answers."""

import math
import time

import numpy as np
import pytest
import torch

from gmrl.music.encoding import MusicDataError
from gmrl.music.metrics import diversity_metrics, pitch_statistics, rltuner_metrics
from gmrl.sequence.diversity import distinct_n

C4, D4, E4, F4, G4, A4, B4, C5 = 14, 16, 18, 19, 21, 23, 25, 26
OFF, HOLD = 0, 1
SCALE = [C4, D4, E4, F4, G4, A4, B4, C5]
TABLE_1 = (
    "repeated_notes_pct",
    "not_in_key_pct",
    "tonic_start_pct",
    "leaps_resolved_pct",
    "unique_max_pct",
    "unique_min_pct",
    "notes_in_motif_pct",
    "notes_in_repeated_motif_pct",
    "autocorrelation_lag1",
    "autocorrelation_lag2",
    "autocorrelation_lag3",
)


def test_one_note_repeated_is_excessive_from_its_sixth_onset():
    stats = rltuner_metrics(np.array([[C4] * 32]))
    assert stats["repeated_notes_pct"] == pytest.approx(100 * 27 / 32)
    assert stats["tonic_start_pct"] == 100.0 and stats["not_in_key_pct"] == 0.0
    assert stats["unique_max_pct"] == 0.0 and stats["unique_min_pct"] == 0.0
    assert stats["notes_in_motif_pct"] == 0.0
    assert math.isnan(stats["leaps_resolved_pct"])  # no leap at all
    assert math.isnan(stats["autocorrelation_lag1"])  # constant composition
    assert stats["pitch_range"] == 0.0 and stats["pitch_class_entropy"] == 0.0


def test_c_major_scale_is_in_key_starts_on_the_tonic_and_has_unique_extrema():
    scale = [note for pitch in SCALE for note in (pitch, HOLD, HOLD, HOLD)]
    stats = rltuner_metrics(torch.tensor([scale]))
    assert stats["not_in_key_pct"] == 0.0 and stats["tonic_start_pct"] == 100.0
    assert stats["repeated_notes_pct"] == 0.0
    assert stats["unique_max_pct"] == 100.0 and stats["unique_min_pct"] == 100.0
    # a bar of 8 steps holds 2 notes: never a motif
    assert stats["notes_in_motif_pct"] == 0.0
    shifted = rltuner_metrics(torch.tensor([[D4, *scale[1:]]]))
    assert shifted["tonic_start_pct"] == 0.0


def test_not_in_key_counts_out_of_key_note_ons_over_all_steps():
    melody = [C4, C4 + 1, HOLD, HOLD] * 8  # C#4 on every fourth step
    assert rltuner_metrics([melody])["not_in_key_pct"] == pytest.approx(25.0)


def test_motif_and_repeated_motif_shares():
    bar = [C4, D4, E4, HOLD, HOLD, HOLD, OFF, HOLD]
    stats = rltuner_metrics([bar * 4])
    assert stats["notes_in_motif_pct"] == pytest.approx(100 * 25 / 32)  # steps 7..31
    assert stats["notes_in_repeated_motif_pct"] == pytest.approx(100 * 17 / 32)  # steps 15..31


def test_leaps_resolved_is_pooled_over_the_batch():
    resolved = [C4, A4, G4, F4, E4, D4, C4] + [HOLD] * 25
    doubled = [C4, A4, A4 + 9] + [HOLD] * 29
    stats = rltuner_metrics([resolved, doubled, doubled, resolved])
    assert stats["leaps_resolved_pct"] == pytest.approx(50.0)


def test_autocorrelation_is_the_mean_over_compositions_without_nans():
    alternating = [C4, D4] * 16
    stats = rltuner_metrics([alternating, [C4] * 32])
    assert stats["autocorrelation_lag1"] == pytest.approx(-31 / 32)
    assert stats["autocorrelation_lag2"] == pytest.approx(30 / 32)
    assert stats["autocorrelation_lag3"] == pytest.approx(-29 / 32)


def test_pitch_statistics_on_a_scale_and_a_chromatic_run():
    scale = pitch_statistics([SCALE + [HOLD] * 24])
    assert scale["pitch_class_entropy"] == pytest.approx(2.75)  # C twice, 6 others once
    assert scale["scale_consistency"] == 1.0 and scale["pitch_range"] == 12.0
    chromatic = pitch_statistics([list(range(C4, C4 + 12)) + [OFF] * 20])
    assert chromatic["pitch_class_entropy"] == pytest.approx(math.log2(12))
    assert chromatic["scale_consistency"] == pytest.approx(7 / 12)
    assert chromatic["pitch_range"] == 11.0
    a_minor = pitch_statistics([[A4, B4, C5, D4 + 12, E4 + 12, F4 + 12, G4 + 13, A4 + 12]])
    assert a_minor["scale_consistency"] == pytest.approx(7 / 8)  # G# is outside the scales
    # compositions without notes are left out of the means
    both = pitch_statistics([SCALE + [HOLD] * 24, [OFF] + [HOLD] * 31])
    assert both["pitch_range"] == 12.0
    assert math.isnan(pitch_statistics([[HOLD] * 32])["pitch_range"])


def lowest_once(composition: list[int]) -> bool:
    notes = [e for e in composition if e >= 2]
    return bool(notes) and composition.count(min(notes)) == 1


def autocorrelate(signal: list[int], lag: int) -> float:
    """rl_tuner_ops.autocorrelate; NaN (numpy's 0/0) for a constant signal."""
    x = np.asarray(signal, dtype=np.float64) - np.mean(signal)
    with np.errstate(invalid="ignore", divide="ignore"):
        return float((x[lag:] * x[: len(x) - lag]).sum() / len(x) / np.var(signal))


def test_table_1_matches_the_scalar_restatement(melodies, reference_steps):
    stats = rltuner_metrics(melodies)
    steps = reference_steps
    total = melodies.size

    def pct_of_steps(key: str) -> float:
        return 100 * sum(step[key] for row in steps for step in row) / total

    outcomes = [step["leap_outcome"] for row in steps for step in row]
    resolved, doubled = outcomes.count(1.0), outcomes.count(-1.0)
    rows = [row.tolist() for row in melodies]
    expected = {
        "repeated_notes_pct": pct_of_steps("repeating_flag"),
        "not_in_key_pct": 100 * sum(step["key"] < 0 for row in steps for step in row) / total,
        "tonic_start_pct": 100 * float(np.mean(melodies[:, 0] == C4)),
        "leaps_resolved_pct": 100 * resolved / (resolved + doubled),
        "unique_max_pct": 100 * float(np.mean([r.count(max(r)) == 1 for r in rows])),
        "unique_min_pct": 100 * float(np.mean([lowest_once(r) for r in rows])),
        "notes_in_motif_pct": pct_of_steps("motif_flag"),
        "notes_in_repeated_motif_pct": pct_of_steps("repeated_motif_flag"),
    }
    for lag in (1, 2, 3):
        expected[f"autocorrelation_lag{lag}"] = float(
            np.nanmean([autocorrelate(r, lag) for r in rows])
        )
    assert set(TABLE_1) <= set(stats)
    for key in TABLE_1:
        assert stats[key] == pytest.approx(expected[key], abs=1e-9), key
    assert 0 < stats["tonic_start_pct"] < 100 and 0 < stats["unique_min_pct"] < 100


def test_diversity_of_copies_and_of_distinct_compositions():
    copies = diversity_metrics(np.tile([C4, D4] * 16, (100, 1)))
    assert copies["unique_fraction"] == 0.01 and copies["top1_share"] == 1.0
    assert copies["collapsed"] == 1.0
    assert copies["token_entropy"] == pytest.approx(1.0)
    assert copies["distinct_2"] == pytest.approx(2 / (100 * 31))  # (C4, D4) and (D4, C4)
    rng = np.random.default_rng(0)
    varied = diversity_metrics(rng.integers(0, 38, size=(100, 32)))
    assert varied["unique_fraction"] == 1.0 and varied["top1_share"] == 0.01
    assert varied["collapsed"] == 0.0 and varied["distinct_3"] > 0.9
    assert varied["token_entropy"] == pytest.approx(math.log2(38), abs=0.05)
    sample = torch.as_tensor(rng.integers(0, 4, size=(30, 32)))  # small vocabulary: repeats
    for n in (2, 3):
        assert diversity_metrics(sample)[f"distinct_{n}"] == pytest.approx(distinct_n(sample, n))


def test_collapse_flag_thresholds():
    rng = np.random.default_rng(1)
    distinct = rng.integers(0, 38, size=(100, 32))
    twice = diversity_metrics(np.concatenate([distinct[:50], distinct[:50]]))
    assert twice["unique_fraction"] == 0.5 and twice["top1_share"] == 0.02
    assert twice["collapsed"] == 0.0
    for copies, collapsed in ((5, 0.0), (6, 1.0)):  # top1_share of 5 % is fine, 6 % is not
        batch = np.concatenate([np.tile(distinct[:1], (copies, 1)), distinct[1 : 101 - copies]])
        stats = diversity_metrics(batch)
        assert stats["top1_share"] == pytest.approx(copies / 100)
        assert stats["collapsed"] == collapsed


def test_bad_input_is_one_clear_error():
    with pytest.raises(MusicDataError, match="shape"):
        rltuner_metrics(np.array([C4] * 32))
    with pytest.raises(MusicDataError):
        diversity_metrics(np.zeros((0, 32), dtype=np.int64))
    with pytest.raises(MusicDataError, match=r"0\.\.37"):
        rltuner_metrics([[C4, 40]])


def test_ten_thousand_compositions_are_measured_in_seconds():
    events = torch.randint(0, 38, (10_000, 32), generator=torch.Generator().manual_seed(0))
    start = time.perf_counter()
    stats = rltuner_metrics(events) | diversity_metrics(events)
    assert time.perf_counter() - start < 3.0
    assert all(isinstance(v, float) for v in stats.values())


def test_composition_report_flags_a_melody_generator_stuck_on_one_pitch():
    """The attractor check beside the music metrics: a batch that hammers one pitch is flagged
    against varied reference melodies; the reference itself is not."""
    from gmrl.generative.autoregressive import AutoregressiveModel
    from gmrl.recipes.music import composition_report

    g = torch.Generator().manual_seed(0)
    reference = torch.randint(2, 38, (200, 32), generator=g)
    stuck = reference.clone()
    stuck[:, ::2] = 20  # every other step the same pitch: half of all events
    note_rnn = AutoregressiveModel(vocab_size=38, seq_len=32, hidden=8, embed_dim=4)
    assert composition_report(reference, note_rnn, reference)["attractor"] == 0.0
    assert composition_report(stuck, note_rnn, reference)["attractor"] == 1.0
    assert "attractor" not in composition_report(stuck, note_rnn)
