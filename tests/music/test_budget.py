"""The corpus log-p budget: which windows meet the per-step rows, the budget measured from them
(or from the closest windows when none do), and the controller that holds beta to it."""

import pytest
import torch

from gmrl.music.budget import Budget, BudgetController, log_p_budget, meets_rows
from gmrl.music.encoding import FIRST_NOTE, NO_EVENT
from gmrl.music.likelihood import composition_log_probs
from gmrl.music.note_rnn import NoteRNNConfig, build_note_rnn


def events(pitches: list[int]) -> list[int]:
    """MIDI pitches (0 = hold) as events, repeated to 32 steps."""
    return [FIRST_NOTE + p - 48 if p else NO_EVENT for p in (pitches * 4)[:32]]


BUSY = events([60, 62, 64, 65, 67, 65, 64, 62])  # in key, stepwise, >= 3 notes in every bar
HELD = events([60, 0, 0, 0, 0, 0, 0, 0])  # one note a bar: never a motif
OUT_OF_KEY = events([60, 62, 64, 66, 67, 65, 64, 62])  # F sharp
REPEATED = events([60, 60, 60, 60, 60, 60, 60, 60])  # excessive repeats


def test_only_busy_in_key_windows_meet_the_rows() -> None:
    met = meets_rows(torch.tensor([BUSY, HELD, OUT_OF_KEY, REPEATED]))
    assert met.tolist() == [True, False, False, False]


@pytest.fixture
def note_rnn():
    torch.manual_seed(0)
    return build_note_rnn(NoteRNNConfig(hidden=8, embed_dim=4)).eval()


def test_budget_is_own_samples_minus_rule_meeting_windows(note_rnn) -> None:
    held_out = torch.tensor([BUSY] * 12 + [HELD] * 5)
    own = note_rnn.sample(64, generator=torch.Generator().manual_seed(1))
    budget = log_p_budget(note_rnn, held_out, own)
    assert (budget.meeting, budget.used, budget.held_out) == (12, 12, 17)
    busy = float(composition_log_probs(note_rnn, torch.tensor([BUSY])).mean())
    own_log_p = float(composition_log_probs(note_rnn, own).mean())
    assert budget.windows_log_p == pytest.approx(busy, abs=1e-4)
    assert budget.nats == pytest.approx(max(1.0, own_log_p - busy), abs=1e-4)
    assert set(budget.as_metrics()) >= {"budget/nats", "budget/meeting"}


def test_without_enough_rule_meeting_windows_the_closest_ones_set_it(note_rnn) -> None:
    held_out = torch.tensor([HELD] * 20 + [OUT_OF_KEY] * 3)  # none meets the rows
    own = note_rnn.sample(16, generator=torch.Generator().manual_seed(1))
    budget = log_p_budget(note_rnn, held_out, own, min_windows=3)
    assert budget.meeting == 0 and budget.used == 3
    # the three with the most steps in a motif are the busy out-of-key ones
    out_of_key = float(composition_log_probs(note_rnn, torch.tensor([OUT_OF_KEY])).mean())
    assert budget.windows_log_p == pytest.approx(out_of_key, abs=1e-4)
    with pytest.raises(ValueError, match="test_fraction"):
        log_p_budget(note_rnn, torch.zeros(0, 32, dtype=torch.long), own)


def test_controller_raises_beta_over_budget_and_falls_back_to_its_start() -> None:
    controller = BudgetController(beta=0.4, budget=20.0, own_log_p=-30.0, horizon=64)
    # the drop below the Note-RNN's samples counts even when the KL is small, and vice versa
    assert controller.measure(kl=3.0, ref_log_p=-55.0) == pytest.approx(25.0)
    assert controller.measure(kl=26.0, ref_log_p=-35.0) == pytest.approx(26.0)
    beta = controller.update(0.4, kl=3.0, ref_log_p=-55.0, batch_size=64)
    assert beta == pytest.approx(0.4 * 1.2)  # 25 nats: over, clipped at +20 %
    beta = controller.update(beta, kl=1.0, ref_log_p=-32.0, batch_size=64)
    assert beta == pytest.approx(0.4)  # under: falls, not below its start
    assert Budget(5.0, -30.0, float("nan"), 0, 0, 1).nats == 5.0
