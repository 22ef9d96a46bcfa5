"""Diversity of a batch of token sequences: the first thing to watch for mode collapse.

`distinct_n` is the number of distinct n-grams divided by the number of n-grams in the batch
(Li et al., 2016): 1.0 when no n-gram repeats, near 0 when every sample says the same thing.
`self_bleu` scores each sample against the others (Zhu et al., 2018, Texygen): near 1.0 when the
samples copy each other.
"""

import torch


def distinct_n(tokens: torch.Tensor, n: int) -> float:
    """Distinct-n of a `(B, T)` batch: unique n-grams / all n-grams (0.0 if T < n)."""
    if n < 1:
        raise ValueError(f"distinct_n needs n >= 1, got {n}")
    if tokens.dim() != 2 or tokens.shape[1] < n or tokens.shape[0] == 0:
        return 0.0
    grams = tokens.unfold(1, n, 1).reshape(-1, n)
    return len(_unique_rows(grams)) / len(grams)


def _unique_rows(rows: torch.Tensor) -> torch.Tensor:
    """Distinct rows of a non-negative integer matrix.

    Rows are packed into one int64 each (base = largest id + 1) when that fits, which makes
    `torch.unique` ~50x faster than its row-wise `dim=0` form on 10,000 sequences; otherwise the
    row-wise form is used.
    """
    if rows.numel() and not rows.is_floating_point() and int(rows.min()) >= 0:
        base = int(rows.max()) + 1
        if base ** rows.shape[1] < 2**62:
            powers = base ** torch.arange(rows.shape[1] - 1, -1, -1, device=rows.device)
            return torch.unique((rows.long() * powers).sum(dim=1))  # no int matmul on CUDA
    return torch.unique(rows, dim=0)


def unique_fraction(tokens: torch.Tensor) -> float:
    """Fraction of distinct whole sequences in a `(B, T)` batch."""
    if len(tokens) == 0:
        return 0.0
    return len(torch.unique(tokens, dim=0)) / len(tokens)


def copy_rate(samples: torch.Tensor, references: torch.Tensor) -> float:
    """Fraction of the `(B, T)` samples that appear verbatim among the `(N, T)` references:
    the memorisation check for a generator trained on (or rewarded by) those references."""
    if len(samples) == 0:
        return 0.0
    known = {tuple(row) for row in references.tolist()}
    return sum(tuple(row) in known for row in samples.tolist()) / len(samples)


def _ngram_counts(tokens: torch.Tensor, n: int) -> torch.Tensor:
    """`(B, U)` counts of each of the batch's U distinct n-grams in each sequence."""
    grams = tokens.unfold(1, n, 1)  # (B, L, n)
    batch, length = grams.shape[:2]
    _, ids = torch.unique(grams.reshape(-1, n), dim=0, return_inverse=True)
    counts = torch.zeros(batch, int(ids.max()) + 1, dtype=torch.long, device=tokens.device)
    counts.scatter_add_(1, ids.view(batch, length), torch.ones_like(ids.view(batch, length)))
    return counts


def self_bleu(tokens: torch.Tensor, max_n: int = 4, epsilon: float = 0.1) -> float:
    """Mean BLEU-`max_n` of each sequence against all the others in the batch (Zhu et al. 2018).

    1.0 when every sample is the same, lower for varied samples; like distinct-n it depends on
    batch size and vocabulary, so compare runs at equal settings. Sequences share one length, so
    there is no brevity penalty; an n-gram order with no match gets `epsilon` matches (smoothing
    "method 1" of Chen & Cherry 2014), so one missing order does not zero the score. Batched: the
    clipped counts come from the top-2 count of each n-gram over the batch, no loop over samples.
    """
    if tokens.dim() != 2 or len(tokens) < 2:
        raise ValueError("self_bleu needs a (B, T) batch with B >= 2")
    orders = range(1, min(max_n, tokens.shape[1]) + 1)
    log_precision = torch.zeros(len(tokens), dtype=torch.float64, device=tokens.device)
    for n in orders:
        counts = _ngram_counts(tokens, n)
        top = counts.topk(2, dim=0)
        # The most any *other* sequence holds of each n-gram: the top count, unless that is mine.
        rows = torch.arange(len(tokens), device=tokens.device)[:, None]
        others = torch.where(top.indices[0] == rows, top.values[1], top.values[0])
        matches = torch.minimum(counts, others).sum(1).double()
        smoothed = torch.where(matches > 0, matches, torch.full_like(matches, epsilon))
        log_precision += torch.log(smoothed / counts.sum(1).double())
    return float((log_precision / len(orders)).exp().mean())
