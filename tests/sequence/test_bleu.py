"""ReferenceBLEU: exact multi-reference BLEU (checked against a direct count), clipping, errors."""

import math
import random
from collections import Counter

import pytest
import torch

from gmrl.sequence.bleu import ReferenceBLEU


def _direct_bleu(candidate: list[int], references: list[list[int]], max_n: int = 4) -> float:
    """Textbook sentence BLEU (no brevity penalty, epsilon 0.1 smoothing), one loop per n-gram."""
    log_precision = 0.0
    for n in range(1, max_n + 1):
        grams = Counter(tuple(candidate[i : i + n]) for i in range(len(candidate) - n + 1))
        ref_counts = [Counter(tuple(r[i : i + n]) for i in range(len(r) - n + 1))
                      for r in references]
        matches = sum(min(count, max(c[gram] for c in ref_counts))
                      for gram, count in grams.items())
        log_precision += math.log((matches or 0.1) / (len(candidate) - n + 1))
    return math.exp(log_precision / max_n)


def test_matches_a_direct_count_on_random_sequences():
    rng = random.Random(0)
    references = [[rng.randrange(6) for _ in range(8)] for _ in range(30)]
    candidates = [[rng.randrange(6) for _ in range(8)] for _ in range(50)]
    scores = ReferenceBLEU(torch.tensor(references), vocab_size=6)(torch.tensor(candidates))
    expected = torch.tensor([_direct_bleu(c, references) for c in candidates])
    torch.testing.assert_close(scores, expected)


def test_a_reference_scores_one_and_repeats_are_clipped():
    references = torch.tensor([[1, 2, 3, 4, 5, 6], [1, 2, 2, 2, 5, 6]])
    bleu = ReferenceBLEU(references, vocab_size=10)
    copy_, unseen, repeats = bleu(torch.tensor([[1, 2, 3, 4, 5, 6], [7, 7, 7, 7, 7, 7],
                                                [2, 2, 2, 2, 2, 2]]))
    assert copy_ == pytest.approx(1.0)
    assert unseen < 0.05
    # six 2s, but no reference holds more than three: unigram precision 3/6, not 6/6
    assert repeats < 0.5


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="references"):
        ReferenceBLEU(torch.zeros(0, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="max_n"):
        ReferenceBLEU(torch.ones(2, 5, dtype=torch.long), max_n=0)
    with pytest.raises(ValueError, match="overflow"):
        ReferenceBLEU(torch.ones(2, 8, dtype=torch.long), max_n=8, vocab_size=300_000)
