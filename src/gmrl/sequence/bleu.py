"""BLEU of generated sequences against a fixed reference corpus, batched: the PG-BLEU reward.

The SeqGAN paper's PG-BLEU baseline rewards a sequence by its BLEU score against the real
training data (every training sequence is a reference). With 10,000 references of 20 tokens and
about 10,000 candidates per generator step (every rollout completion), the score must be
tensor work: each n-gram is hashed to one int64 key, the references' clipped counts (the most
any single reference holds of each n-gram) are a sorted key table built once, and a candidate's
clipped matches come from a binary search in that table plus its own running occurrence count.
Sequences share one length, so there is no brevity penalty; an order with no match gets
`epsilon` matches (Chen & Cherry 2014, method 1) so one missing order does not zero the score.
"""

import torch


class ReferenceBLEU:
    """`scorer(candidates)` -> `(M,)` BLEU-`max_n` of each `(M, T)` row against `references`."""

    def __init__(
        self, references: torch.Tensor, max_n: int = 4, epsilon: float = 0.1,
        vocab_size: int | None = None,
    ) -> None:
        if references.dim() != 2 or len(references) == 0:
            raise ValueError("ReferenceBLEU needs a non-empty (N, T) tensor of references")
        if max_n < 1:
            raise ValueError(f"max_n must be >= 1, got {max_n}")
        self.base = int(vocab_size if vocab_size is not None else int(references.max()) + 1)
        self.orders = list(range(1, min(max_n, references.shape[1]) + 1))
        if self.base ** self.orders[-1] >= 2**62:
            raise ValueError(f"{self.orders[-1]}-grams over {self.base} tokens overflow int64 keys")
        self.epsilon = epsilon
        self.tables = [self._clip_table(references.long(), n) for n in self.orders]

    def _keys(self, tokens: torch.Tensor, n: int) -> torch.Tensor:
        """`(B, T-n+1)` int64 key of each n-gram."""
        grams = tokens.long().unfold(1, n, 1)
        powers = self.base ** torch.arange(n, device=tokens.device, dtype=torch.long)
        return (grams * powers).sum(-1)

    def _clip_table(self, references: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Sorted distinct keys and, for each, the most any one reference holds of it."""
        keys = self._keys(references, n)
        rows = torch.arange(len(keys), device=keys.device)[:, None].expand_as(keys)
        pairs, counts = torch.unique(torch.stack([rows.reshape(-1), keys.reshape(-1)]), dim=1,
                                     return_counts=True)
        distinct, index = torch.unique(pairs[1], return_inverse=True)  # sorted
        most = torch.zeros(len(distinct), dtype=torch.long, device=keys.device)
        most.scatter_reduce_(0, index, counts, reduce="amax")
        return distinct, most

    @torch.no_grad()
    def __call__(self, candidates: torch.Tensor) -> torch.Tensor:
        log_precision = torch.zeros(len(candidates), dtype=torch.float64,
                                    device=candidates.device)
        for n, (distinct, most) in zip(self.orders, self.tables, strict=True):
            keys = self._keys(candidates, n)
            length = keys.shape[1]
            # 1-based occurrence of each n-gram within its own row (in reading order).
            same = keys[:, :, None] == keys[:, None, :]
            upto = torch.ones(length, length, dtype=torch.bool, device=keys.device).tril()
            occurrence = (same & upto).sum(-1)
            slot = torch.searchsorted(distinct, keys).clamp_max(len(distinct) - 1)
            allowed = torch.where(distinct[slot] == keys, most[slot], torch.zeros_like(keys))
            matches = (occurrence <= allowed).sum(1).double()
            smoothed = torch.where(matches > 0, matches, torch.full_like(matches, self.epsilon))
            log_precision += torch.log(smoothed / length)
        return (log_precision / len(self.orders)).exp().float()
