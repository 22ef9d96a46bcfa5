"""A seeded random Markov chain over tokens: a cheap data source with a known likelihood.

Used to pre-train generators in tests and recipes when no corpus is given. Rows of the transition
matrix are Dirichlet draws; a small `concentration` makes each row peaked, so the chain has clear
structure (a model can learn it) and still some randomness (RL tuning has room to move).
"""

import torch

from gmrl.core.errors import ConfigError


class MarkovChain:
    """First-order chain: `initial` `(V,)` start distribution, `transition` `(V, V)` rows."""

    def __init__(self, initial: torch.Tensor, transition: torch.Tensor) -> None:
        self.initial = initial
        self.transition = transition
        self.vocab_size = len(initial)

    @classmethod
    def random(
        cls, vocab_size: int, concentration: float = 0.5, generator: torch.Generator | None = None
    ) -> "MarkovChain":
        """A chain with Dirichlet(`concentration`) rows drawn from `generator`."""
        if vocab_size < 2 or concentration <= 0:
            raise ConfigError(
                f"Markov chain needs vocab_size >= 2 and concentration > 0, "
                f"got {vocab_size} and {concentration}"
            )
        alpha = torch.full((vocab_size + 1, vocab_size), float(concentration))
        gamma = torch._standard_gamma(alpha, generator=generator)  # Dirichlet via normalised Gammas
        rows = gamma / gamma.sum(dim=1, keepdim=True)
        return cls(initial=rows[0], transition=rows[1:])

    def sample(
        self, n: int, seq_len: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """`(n, seq_len)` LongTensor of sequences (batched over sequences, looped over time)."""
        out = torch.empty(n, seq_len, dtype=torch.long)
        out[:, 0] = torch.multinomial(self.initial, n, replacement=True, generator=generator)
        for t in range(1, seq_len):
            out[:, t] = torch.multinomial(
                self.transition[out[:, t - 1]], 1, generator=generator
            ).squeeze(1)
        return out

    def log_prob(self, tokens: torch.Tensor) -> torch.Tensor:
        """Exact `(N,)` log-likelihood of sequences under the chain."""
        tokens = tokens.long().cpu()
        first = self.initial[tokens[:, 0]].log()
        return first + self.transition[tokens[:, :-1], tokens[:, 1:]].log().sum(dim=1)
