"""Log p per composition and per event, with its median and 10th percentile, on a tiny Note-RNN."""

import numpy as np
import pytest
import torch

from gmrl.music.likelihood import composition_log_probs, log_p_metrics, log_p_summary
from gmrl.music.note_rnn import NoteRNNConfig, build_note_rnn, mean_log_prob


def test_summary_of_known_values():
    values = torch.tensor([-10.0, -20.0, -30.0, -40.0, -50.0])
    figures = log_p_summary(values, steps=10)
    assert figures["log_p"] == -30.0 and figures["log_p_per_event"] == -3.0
    assert figures["log_p_median"] == -30.0
    assert figures["log_p_p10"] == pytest.approx(-46.0)  # numpy's linear interpolation
    with pytest.raises(ValueError, match="at least one"):
        log_p_summary(torch.zeros(0), steps=10)


def test_the_mean_is_mean_log_prob_to_the_digit():
    torch.manual_seed(0)
    model = build_note_rnn(NoteRNNConfig(hidden=8, embed_dim=4))
    events = np.random.default_rng(0).integers(0, 38, size=(50, 32))
    figures = log_p_metrics(model, events)
    assert figures["log_p"] == mean_log_prob(model, events)
    per_composition = composition_log_probs(model, events)
    assert per_composition.shape == (50,)
    assert figures["log_p_p10"] <= figures["log_p_median"]
    assert figures["log_p_per_event"] == pytest.approx(figures["log_p"] / 32)
