"""Tuner baselines: the moving average tracks returns per position; the critic learns them."""

import torch

from gmrl.sequence.tuning_baselines import LearnedBaseline, MovingAverageBaseline


def test_moving_average_starts_at_the_first_batch_and_then_decays() -> None:
    baseline = MovingAverageBaseline(seq_len=3, decay=0.5)
    tokens, mask = torch.zeros(2, 3, dtype=torch.long), torch.ones(2, 3)
    baseline.update(tokens, torch.tensor([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]), mask)
    assert torch.equal(baseline.predict(tokens), torch.full((2, 3), 2.0))
    baseline.update(tokens, torch.zeros(2, 3), mask)
    assert torch.equal(baseline.predict(tokens)[0], torch.full((3,), 1.0))


def test_learned_baseline_fits_prefix_dependent_returns() -> None:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 4, (64, 5), generator=g)
    # The return at position t depends on the previous token (what the critic can see).
    previous = torch.cat([torch.zeros(64, 1, dtype=torch.long), tokens[:, :-1]], dim=1)
    returns = previous.float()
    critic = LearnedBaseline(vocab_size=4, seq_len=5, hidden=16, lr=3e-2)
    mask = torch.ones(64, 5)
    first = critic.update(tokens, returns, mask)
    for _ in range(100):
        last = critic.update(tokens, returns, mask)
    assert last < 0.05 * first
