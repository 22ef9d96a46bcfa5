"""distinct-n and unique_fraction on batches whose answers are known by hand."""

import math

import pytest
import torch

from gmrl.sequence.diversity import copy_rate, distinct_n, self_bleu, unique_fraction


def test_distinct_n_counts_unique_ngrams_over_the_batch() -> None:
    tokens = torch.tensor([[1, 2, 1, 2], [1, 2, 3, 4]])
    # bigrams: (1,2) (2,1) (1,2) | (1,2) (2,3) (3,4) -> 4 unique of 6
    assert distinct_n(tokens, 2) == pytest.approx(4 / 6)
    assert distinct_n(tokens, 1) == pytest.approx(4 / 8)
    assert distinct_n(tokens, 4) == pytest.approx(1.0)
    assert distinct_n(tokens, 5) == 0.0
    collapsed = torch.zeros(16, 6, dtype=torch.long)
    assert distinct_n(collapsed, 2) == pytest.approx(1 / (16 * 5))
    with pytest.raises(ValueError):
        distinct_n(tokens, 0)


def test_unique_fraction() -> None:
    assert unique_fraction(torch.tensor([[1, 2], [1, 2], [2, 1], [0, 0]])) == pytest.approx(0.75)
    assert unique_fraction(torch.zeros(0, 3, dtype=torch.long)) == 0.0


def _bleu_by_loops(tokens: torch.Tensor, max_n: int = 4, epsilon: float = 0.1) -> float:
    """Reference self-BLEU written the slow, obvious way."""
    rows = tokens.tolist()
    scores = []
    for i, hypothesis in enumerate(rows):
        references = [r for j, r in enumerate(rows) if j != i]
        log_p = 0.0
        for n in range(1, max_n + 1):
            grams = [tuple(hypothesis[k : k + n]) for k in range(len(hypothesis) - n + 1)]
            matched = 0
            for gram in set(grams):
                best = max(
                    sum(tuple(r[k : k + n]) == gram for k in range(len(r) - n + 1))
                    for r in references
                )
                matched += min(grams.count(gram), best)
            log_p += math.log((matched or epsilon) / len(grams))
        scores.append(math.exp(log_p / max_n))
    return sum(scores) / len(scores)


def test_self_bleu_matches_a_loop_implementation_and_flags_copies() -> None:
    tokens = torch.randint(0, 4, (12, 7), generator=torch.Generator().manual_seed(0))
    assert self_bleu(tokens) == pytest.approx(_bleu_by_loops(tokens), rel=1e-9)
    assert self_bleu(torch.tensor([[1, 2, 3, 4, 5]] * 4)) == pytest.approx(1.0)
    varied = torch.randint(0, 50, (12, 7), generator=torch.Generator().manual_seed(0))
    assert self_bleu(varied) < 0.2 < self_bleu(tokens)


def test_copy_rate_counts_verbatim_training_sequences():
    train = torch.tensor([[1, 2, 3], [4, 5, 6]])
    samples = torch.tensor([[1, 2, 3], [1, 2, 4], [4, 5, 6], [6, 5, 4]])
    assert copy_rate(samples, train) == 0.5
    assert copy_rate(samples[:0], train) == 0.0


def test_distinct_n_packed_path_matches_the_row_wise_count() -> None:
    """Packed n-grams (small vocabularies) and row-wise unique (huge ones) count the same."""
    generator = torch.Generator().manual_seed(0)
    for vocab, length, n in [(38, 32, 3), (5000, 20, 4), (10**6, 20, 4)]:
        tokens = torch.randint(0, vocab, (500, length), generator=generator)
        grams = tokens.unfold(1, n, 1).reshape(-1, n)
        expected = len(torch.unique(grams, dim=0)) / len(grams)
        assert distinct_n(tokens, n) == expected
