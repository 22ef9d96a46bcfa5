"""The Note-RNN learns melodies, scores compositions, and saves/loads as an artifact."""

import math

import numpy as np
import pytest
import torch

from gmrl.core.errors import CheckpointError
from gmrl.music.note_rnn import (
    NUM_EVENTS,
    NoteRNNConfig,
    build_note_rnn,
    event_log_probs,
    fit_epoch,
    load_note_rnn,
    mean_log_prob,
    per_event_nll,
    pretrain_epochs,
    save_note_rnn,
)


def held_notes(n: int, seed: int, hold: int = 8) -> np.ndarray:
    """`(n, 32)` melodies of in-key notes (C major, MIDI 60..72) each held for `hold` steps."""
    rng = np.random.default_rng(seed)
    pitches = np.array([60, 62, 64, 65, 67, 69, 71, 72])
    notes = rng.choice(pitches, size=(n, 32 // hold)) - 46
    events = np.ones((n, 32), dtype=np.int64)
    events[:, ::hold] = notes
    return events


def test_held_out_nll_falls_far_below_uniform() -> None:
    torch.manual_seed(0)
    train, test = held_notes(600, seed=1), held_notes(100, seed=2)
    model = build_note_rnn(NoteRNNConfig(hidden=32, embed_dim=16))
    generator = torch.Generator().manual_seed(0)
    before = per_event_nll(model, test)
    for _ in range(6):
        fit_epoch(model, train, batch_size=64, generator=generator)
    after = per_event_nll(model, test)
    assert before > 0.9 * math.log(NUM_EVENTS)
    # 1 event in 8 is a free choice among 8 notes: the ideal is log(8) / 8 = 0.26 nats per event
    assert after < 0.25 * math.log(NUM_EVENTS), (before, after)


def test_mean_log_prob_is_the_sum_over_steps_and_save_load_keeps_it(tmp_path) -> None:
    torch.manual_seed(0)
    model = build_note_rnn(NoteRNNConfig(hidden=16, embed_dim=8)).eval()
    events = held_notes(20, seed=3)
    per_step = event_log_probs(model, events)
    assert per_step.shape == (20, 32)
    assert mean_log_prob(model, events) == pytest.approx(float(per_step.sum(1).mean()), rel=1e-6)
    with torch.no_grad():
        direct = float(model.log_prob(torch.from_numpy(events)).mean())
    assert mean_log_prob(model, events) == pytest.approx(direct, rel=1e-5)
    path = save_note_rnn(model, tmp_path / "note_rnn.safetensors")
    again = load_note_rnn(path)
    assert again.cell == "lstm" and again.vocab_size == NUM_EVENTS
    assert mean_log_prob(again, events) == pytest.approx(mean_log_prob(model, events), rel=1e-6)


def test_loading_something_else_is_one_line(tmp_path) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError) as info:
        load_note_rnn(bad)
    assert "\n" not in str(info.value)
    with pytest.raises(CheckpointError):
        load_note_rnn(tmp_path / "missing.safetensors")


def test_min_updates_gives_a_small_corpus_more_passes_and_never_fewer() -> None:
    config = NoteRNNConfig(epochs=4, min_updates=1000, batch_size=128)
    assert pretrain_epochs(config, 73_000) == 4  # 571 steps a pass: 4 passes are enough
    assert pretrain_epochs(config, 3_800) == 34  # 30 steps a pass: 34 passes for 1,000 steps
    assert pretrain_epochs(config, 0) == 4
    assert pretrain_epochs(NoteRNNConfig(epochs=4), 3_800) == 4  # no floor: epochs as given
