"""distinct-n and unique_fraction on batches whose answers are known by hand."""

import math

import pytest
import torch

from gmrl.sequence.diversity import (
    attractor_check,
    copy_rate,
    distinct_n,
    run_mask,
    self_bleu,
    sequence_diversity,
    token_entropy,
    top_ngram_share,
    unique_fraction,
)


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


def test_token_entropy_is_log_k_for_k_equally_common_tokens() -> None:
    tokens = torch.tensor([[0, 1, 2, 3], [3, 2, 1, 0]])
    assert token_entropy(tokens) == pytest.approx(math.log(4))
    assert token_entropy(tokens, base=2) == pytest.approx(2.0)
    assert token_entropy(torch.full((3, 5), 7)) == pytest.approx(0.0)


def test_run_mask_finds_four_copies_in_a_row_only() -> None:
    tokens = torch.tensor([[5, 5, 5, 5, 1],   # a run of four
                           [5, 5, 5, 1, 5],   # three, then a break
                           [1, 2, 2, 2, 2],   # four at the end
                           [1, 2, 1, 2, 1]])
    assert run_mask(tokens).tolist() == [True, False, True, False]
    assert run_mask(tokens, length=3).tolist() == [True, True, True, False]
    assert not run_mask(torch.zeros(2, 3, dtype=torch.long)).any()  # shorter than the run


def test_sequence_diversity_figures_on_a_hand_made_batch() -> None:
    tokens = torch.tensor([[1, 2, 3, 4], [1, 2, 3, 4], [9, 9, 9, 9], [1, 5, 6, 7]])
    figures = sequence_diversity(tokens)
    assert figures["unique_fraction"] == pytest.approx(3 / 4)
    assert figures["top_sequence_share"] == pytest.approx(2 / 4)
    assert figures["top_token"] == 9.0 and figures["top_token_share"] == pytest.approx(4 / 16)
    assert figures["run_share"] == pytest.approx(1 / 4)
    assert figures["distinct_2"] == pytest.approx(distinct_n(tokens, 2))
    with pytest.raises(ValueError):
        sequence_diversity(torch.zeros(0, 4, dtype=torch.long))


def test_attractor_check_flags_a_pile_on_one_token_but_not_real_data() -> None:
    g = torch.Generator().manual_seed(0)
    reference = torch.randint(0, 500, (2000, 20), generator=g)
    assert attractor_check(torch.randint(0, 500, (2000, 20), generator=g),
                           reference)["attractor"] == 0.0
    piled = torch.randint(0, 500, (2000, 20), generator=g)
    piled[:300, 5:11] = 42  # 15 % of sequences hold a run of six 42s: 4.5 % of all tokens
    check = attractor_check(piled, reference)
    assert check["attractor"] == 1.0 and check["top_token"] == 42.0
    assert check["top_token_share"] > 10 * check["reference_top_token_share"]
    assert check["run_share"] == pytest.approx(0.15)


def test_top_ngram_share_counts_each_sequence_once_and_sees_a_shared_phrase() -> None:
    tokens = torch.tensor([[1, 2, 3, 1, 2, 3], [1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1],
                           [0, 0, 0, 0, 0, 0]])
    # (1,2,3) is in rows 0 (twice) and 1: two of four sequences
    assert top_ngram_share(tokens, 3) == pytest.approx(2 / 4)
    assert top_ngram_share(tokens, 6) == pytest.approx(1 / 4)  # no two rows alike
    assert top_ngram_share(tokens, 1) == pytest.approx(3 / 4)  # token 1 (or 2, 3, ...)
    assert top_ngram_share(tokens, 7) == 0.0
    with pytest.raises(ValueError):
        top_ngram_share(tokens, 0)


def test_top_ngram_share_flags_a_looping_batch_long_before_whole_copies() -> None:
    """A batch built around one 12-event phrase (the folder corpus's collapse), every
    sequence different, against fresh random sequences of the same vocabulary."""
    g = torch.Generator().manual_seed(0)
    fresh = torch.randint(0, 38, (64, 32), generator=g)
    phrase = torch.tensor([14, 1, 21, 19, 18, 14, 21, 18, 16, 14, 13, 16])
    looping = fresh.clone()
    looping[:48, 4:16] = phrase  # three quarters of the batch hold the phrase once
    assert unique_fraction(looping) == 1.0  # no two sequences alike yet
    assert top_ngram_share(looping, 8) == pytest.approx(0.75)
    assert top_ngram_share(fresh, 8) == pytest.approx(1 / 64)
