"""Baselines for the reward tuner, turning per-token returns into lower-variance advantages.

Both predict the return-to-go `G_t` of a `(B, T)` batch of sequences. Subtracting a baseline that
does not depend on the sampled token keeps the policy gradient unbiased and shrinks its variance.

- `MovingAverageBaseline`: an exponential moving average of the batch-mean return at each position.
- `LearnedBaseline`: a small GRU critic reading the prefix (tokens before t) to predict `G_t`.

(SeqGAN's comparison baselines — MLE, scheduled sampling — live in `gmrl.sequence.baselines`.)
"""

import torch
from torch import nn
from torch.nn import functional as F


class MovingAverageBaseline(nn.Module):
    """Per-position exponential moving average of returns (decay close to 1 = slow)."""

    mean: torch.Tensor
    initialised: torch.Tensor

    def __init__(self, seq_len: int, decay: float = 0.9) -> None:
        super().__init__()
        self.decay = decay
        self.register_buffer("mean", torch.zeros(seq_len))
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    def predict(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.mean.expand(tokens.shape[0], -1)

    def update(self, tokens: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> float:
        """Fold the batch's mean return at each position into the average; returns NaN (no loss)."""
        batch_mean = (returns * mask).sum(0) / mask.sum(0).clamp_min(1.0)
        if not bool(self.initialised):
            self.mean.copy_(batch_mean)
            self.initialised.fill_(True)
        else:
            self.mean.mul_(self.decay).add_((1 - self.decay) * batch_mean)
        return float("nan")


class LearnedBaseline(nn.Module):
    """A GRU value network `V(tokens < t)`, fitted to returns by one Adam step per batch."""

    def __init__(self, vocab_size: int, seq_len: int, hidden: int = 64, lr: float = 1e-2) -> None:
        super().__init__()
        self.bos = vocab_size
        self.embedding = nn.Embedding(vocab_size + 1, 32)
        self.rnn = nn.GRU(32, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)
        self.optimizer = torch.optim.Adam(self.parameters(), lr=lr)

    def predict(self, tokens: torch.Tensor) -> torch.Tensor:
        start = torch.full_like(tokens[:, :1], self.bos)
        inputs = torch.cat([start, tokens[:, :-1]], dim=1)
        features, _ = self.rnn(self.embedding(inputs))
        return self.head(features).squeeze(-1)

    def update(self, tokens: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> float:
        """One Adam step on the masked squared error; returns the loss before the step."""
        loss = (F.mse_loss(self.predict(tokens), returns, reduction="none") * mask).sum()
        loss = loss / mask.sum().clamp_min(1.0)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())
