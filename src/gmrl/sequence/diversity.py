"""Diversity of a batch of token sequences: the first thing to watch for mode collapse.

`distinct_n` is the number of distinct n-grams divided by the number of n-grams in the batch
(Li et al., 2016): 1.0 when no n-gram repeats, near 0 when every sample says the same thing.
`self_bleu` scores each sample against the others (Zhu et al., 2018, Texygen): near 1.0 when the
samples copy each other.
`sequence_diversity` gathers the figures every sequence benchmark reports beside its quality
metric, and `attractor_check` looks for the failure that distinct-n alone misses: a generator that
piles probability onto one token the scorer likes (Issue 13: PG-BLEU's samples on the SeqGAN
oracle were 17.8 % one token, against 0.4 % in the oracle's own samples).
"""

import math

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


def top_ngram_share(tokens: torch.Tensor, n: int) -> float:
    """Share of the `(B, T)` batch's sequences that hold its most common n-gram (each sequence
    counted once however often it holds it; 0.0 if T < n or the batch is empty).

    A phrase concentration figure: it rises when a generator starts building many sequences
    around one phrase, long before two whole sequences come out the same (the collapse guard's
    early signal, `gmrl.sequence.tuner.TunerConfig.concentration_factor`)."""
    if n < 1:
        raise ValueError(f"top_ngram_share needs n >= 1, got {n}")
    if tokens.dim() != 2 or tokens.shape[1] < n or len(tokens) == 0:
        return 0.0
    grams = tokens.unfold(1, n, 1)  # (B, L, n)
    rows, positions = grams.shape[0], grams.shape[1]
    _, ids = torch.unique(grams.reshape(-1, n), dim=0, return_inverse=True)
    ids = ids.view(rows, positions).sort(dim=1).values
    first = torch.ones_like(ids, dtype=torch.bool)
    first[:, 1:] = ids[:, 1:] != ids[:, :-1]  # one count per sequence and n-gram
    counts = torch.bincount(ids[first])
    return float(counts.max()) / rows


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


def token_entropy(tokens: torch.Tensor, base: float = math.e) -> float:
    """Entropy of the batch's unigram (token) histogram, in nats (`base=2`: bits)."""
    if tokens.numel() == 0:
        return 0.0
    counts = torch.unique(tokens.reshape(-1), return_counts=True)[1].double()
    share = counts / counts.sum()
    return float(-(share * share.log()).sum()) / math.log(base)


def run_mask(tokens: torch.Tensor, length: int = 4) -> torch.Tensor:
    """`(B,)` bool: which sequences hold `length` or more copies of one token in a row."""
    if tokens.dim() != 2 or tokens.shape[1] < length or length < 2:
        return torch.zeros(len(tokens), dtype=torch.bool, device=tokens.device)
    same = tokens[:, 1:] == tokens[:, :-1]  # (B, T-1): token t+1 repeats token t
    windows = same.unfold(1, length - 1, 1)  # length-1 consecutive repeats = a run of `length`
    return windows.all(dim=2).any(dim=1)


def sequence_diversity(tokens: torch.Tensor, *, base: float = math.e,
                       run_length: int = 4) -> dict[str, float]:
    """The diversity figures reported beside every sequence model's quality metric.

    - `unique_fraction`: distinct whole sequences / sequences;
    - `distinct_2`, `distinct_3`: distinct n-grams / n-grams (Li et al. 2016);
    - `token_entropy`: unigram entropy (nats unless `base` says otherwise);
    - `top_sequence_share`: share of the batch taken by its most common sequence;
    - `top_token`, `top_token_share`: the most common token and its share of all tokens;
    - `run_share`: share of sequences holding a run of `run_length` copies of one token.
    """
    if tokens.dim() != 2 or len(tokens) == 0:
        raise ValueError("sequence_diversity needs a non-empty (B, T) batch")
    _, sequence_counts = torch.unique(tokens, dim=0, return_counts=True)
    token_ids, token_counts = torch.unique(tokens.reshape(-1), return_counts=True)
    top = int(token_counts.argmax())
    return {
        "unique_fraction": len(sequence_counts) / len(tokens),
        "distinct_2": distinct_n(tokens, 2),
        "distinct_3": distinct_n(tokens, 3),
        "token_entropy": token_entropy(tokens, base),
        "top_sequence_share": float(sequence_counts.max()) / len(tokens),
        "top_token": float(token_ids[top]),
        "top_token_share": float(token_counts[top]) / tokens.numel(),
        "run_share": float(run_mask(tokens, run_length).double().mean()),
    }


def attractor_check(tokens: torch.Tensor, reference: torch.Tensor, *, factor: float = 5.0,
                    min_share: float = 0.01, run_length: int = 4) -> dict[str, float]:
    """Has the generator piled onto one token or onto runs, compared with real data?

    `reference` is a batch of real sequences (for the SeqGAN oracle: held-out oracle samples).
    The flag `attractor` is 1.0 when the samples' most common token takes at least `min_share`
    of all tokens and `factor` times its share in the reference, or when runs of `run_length`
    copies of one token are at least `min_share` of the samples and `factor` times as common as
    in the reference. A float, so it logs like the other figures.
    """
    mine = sequence_diversity(tokens, run_length=run_length)
    top = int(mine["top_token"])
    reference_share = float((reference == top).double().mean()) if reference.numel() else 0.0
    reference_runs = float(run_mask(reference, run_length).double().mean()) if len(reference) \
        else 0.0
    token_pile = (mine["top_token_share"] >= min_share
                  and mine["top_token_share"] >= factor * reference_share)
    run_pile = mine["run_share"] >= min_share and mine["run_share"] >= factor * reference_runs
    return {"top_token": mine["top_token"], "top_token_share": mine["top_token_share"],
            "reference_top_token_share": reference_share, "run_share": mine["run_share"],
            "reference_run_share": reference_runs, "attractor": float(token_pile or run_pile)}
