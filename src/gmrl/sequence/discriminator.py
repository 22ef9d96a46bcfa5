"""The SeqGAN discriminator: a CNN over token embeddings with a highway layer and dropout.

As in the paper (after Kim 2014 and Zhang & LeCun 2015): convolutions with window sizes 1-10, 15
and 20 (100-200 filters each) slide over the embedded sequence, each feature map is max-pooled
over time, the concatenated features pass a highway layer, dropout and a linear layer that gives
one logit for "real". `width` scales every filter count, so `width=0.25` is a four-times cheaper
model for CPU runs. The paper's L2 penalty (lambda 0.2) applies to the output layer.
"""

import torch
from pydantic import Field
from torch import nn
from torch.nn import functional as F

from gmrl.core.config import NonNegativeFloat, PositiveFloat, StrictModel
from gmrl.core.errors import ConfigError

PAPER_FILTER_SIZES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20)
PAPER_NUM_FILTERS = (100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160)


class Highway(nn.Module):
    """y = t * relu(W_h x) + (1 - t) * x with gate t = sigmoid(W_t x)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.transform = nn.Linear(size, size)
        self.gate = nn.Linear(size, size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.gate(x))
        return gate * F.relu(self.transform(x)) + (1.0 - gate) * x


class DiscriminatorConfig(StrictModel):
    """The CNN discriminator's size and training (the paper's values are the defaults)."""

    embed_dim: int = Field(64, ge=1, description="token embedding size")
    width: PositiveFloat = Field(1.0, description="scale of the paper's filter counts (100-200)")
    dropout: float = Field(0.25, ge=0, lt=1, description="paper: keep probability 0.75")
    l2: NonNegativeFloat = Field(0.2, description="L2 penalty on the output layer")
    lr: PositiveFloat = Field(1e-4, description="Adam learning rate")
    batch_size: int = Field(64, ge=1, description="training batch (real and fake together)")

    def build(self, vocab_size: int, seq_len: int) -> "CNNDiscriminator":
        """The discriminator for `vocab_size` tokens and sequences of `seq_len`."""
        return CNNDiscriminator(
            vocab_size, seq_len, self.embed_dim, width=self.width, dropout=self.dropout,
            l2=self.l2, lr=self.lr,
        )


_DEFAULTS = DiscriminatorConfig()


class CNNDiscriminator(nn.Module):
    """Scores token sequences `(B, T)`: `forward` gives logits of "real", `prob_real` in (0, 1)."""

    def __init__(
        self,
        vocab_size: int,
        seq_len: int,
        embed_dim: int = _DEFAULTS.embed_dim,
        filter_sizes: tuple[int, ...] = PAPER_FILTER_SIZES,
        num_filters: tuple[int, ...] = PAPER_NUM_FILTERS,
        width: float = _DEFAULTS.width,
        dropout: float = _DEFAULTS.dropout,
        l2: float = _DEFAULTS.l2,
        lr: float = _DEFAULTS.lr,
    ) -> None:
        super().__init__()
        if len(filter_sizes) != len(num_filters):
            raise ConfigError("discriminator filter_sizes and num_filters must have equal length")
        if width <= 0:
            raise ConfigError(f"discriminator width must be > 0, got {width}")
        sizes = [k for k in filter_sizes if k <= seq_len]  # a window longer than T sees nothing
        if not sizes:
            raise ConfigError(f"no discriminator filter fits sequences of length {seq_len}")
        counts = [max(1, round(n * width))
                  for k, n in zip(filter_sizes, num_filters, strict=True) if k <= seq_len]
        self.seq_len = seq_len
        self.l2 = float(l2)
        self.lr = float(lr)
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.convs = nn.ModuleList(
            nn.Conv1d(embed_dim, n, k) for k, n in zip(sizes, counts, strict=True)
        )
        features = sum(counts)
        self.highway = Highway(features)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(features, 1)
        self.optimizer = torch.optim.Adam(self.parameters(), lr=self.lr)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embedding(tokens.long()).transpose(1, 2)  # (B, embed, T)
        pooled = [F.relu(conv(x)).amax(dim=2) for conv in self.convs]
        features = self.highway(torch.cat(pooled, dim=1))
        return self.out(self.dropout(features)).squeeze(1)

    @torch.no_grad()
    def prob_real(self, tokens: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
        """`(B,)` probability that each sequence is real, in eval mode (no dropout)."""
        was_training = self.training
        self.eval()
        parts = [torch.sigmoid(self(tokens[s : s + chunk])) for s in range(0, len(tokens), chunk)]
        self.train(was_training)
        return torch.cat(parts)

    def loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """Binary cross-entropy (real=1, fake=0) plus the L2 penalty on the output layer."""
        tokens = torch.cat([real, fake])
        labels = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))]).to(tokens.device)
        return F.binary_cross_entropy_with_logits(self(tokens), labels) + self.penalty()

    def penalty(self) -> torch.Tensor:
        """The paper's L2 term: l2 * (|W_out|^2 + |b_out|^2) / 2."""
        return 0.5 * self.l2 * (self.out.weight.square().sum() + self.out.bias.square().sum())

    def fit(
        self,
        real: torch.Tensor,
        fake: torch.Tensor,
        epochs: int = 1,
        batch_size: int = _DEFAULTS.batch_size,
        generator: torch.Generator | None = None,
    ) -> float:
        """Train on shuffled real and fake sequences (batches hold both, in proportion);
        returns the last epoch's mean loss."""
        self.train()
        tokens = torch.cat([real, fake])
        labels = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))]).to(tokens.device)
        mean = float("nan")
        for _ in range(epochs):
            order = torch.randperm(len(tokens), generator=generator).to(tokens.device)
            total, batches = 0.0, 0
            for start in range(0, len(tokens), batch_size):
                index = order[start : start + batch_size]
                logits = self(tokens[index])
                loss = F.binary_cross_entropy_with_logits(logits, labels[index]) + self.penalty()
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                total += float(loss.detach())
                batches += 1
            mean = total / max(batches, 1)
        self.eval()
        return mean

    @torch.no_grad()
    def accuracy(self, real: torch.Tensor, fake: torch.Tensor) -> float:
        """Fraction of sequences classified correctly at threshold 0.5."""
        correct = (self.prob_real(real) > 0.5).sum() + (self.prob_real(fake) <= 0.5).sum()
        return float(correct) / (len(real) + len(fake))
