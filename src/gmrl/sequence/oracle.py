"""The SeqGAN paper's oracle: a fixed random LSTM that plays "the real world" on synthetic data.

The weights are the ones published with the paper's code (converted to `.npz`, see
`gmrl.sequence.data`). Equations, with row vectors and `x` the embedding of the previous token
(start token 0, zero initial `h` and `c`):

    i = sigmoid(x W_i + h U_i + b_i)    f = sigmoid(x W_f + h U_f + b_f)
    o = sigmoid(x W_o + h U_o + b_o)    c~ = tanh(x W_c + h U_c + b_c)
    c = f * c + i * c~                  h = o * tanh(c)
    p(next token) = softmax(h W_out + b_out)

`nll(samples)` is the benchmark's NLL_oracle: the oracle's mean per-token negative
log-likelihood of a generator's samples. Everything is batched; long inputs go in chunks so the
(chunk, vocab) logits of one time step are the largest tensor alive.
"""

from pathlib import Path

import numpy as np
import torch
from torch import nn

from gmrl.core.errors import ConfigError
from gmrl.sequence.data import oracle_path
from gmrl.sequence.generation import draw_tokens

GATES = ("i", "f", "o", "c")
SEQ_LEN = 20
START_TOKEN = 0


class OracleLSTM(nn.Module):
    """The oracle as a frozen torch module: `sample`, `nll`, `token_nll`."""

    embedding: torch.Tensor
    W: torch.Tensor
    U: torch.Tensor
    b: torch.Tensor
    W_out: torch.Tensor
    b_out: torch.Tensor

    def __init__(self, weights: dict[str, np.ndarray], seq_len: int = SEQ_LEN) -> None:
        super().__init__()
        self.seq_len = seq_len
        as_tensor = lambda name: torch.as_tensor(np.asarray(weights[name], dtype=np.float32))  # noqa: E731
        self.register_buffer("embedding", as_tensor("embedding"))
        # Gate order i, f, o, c fused into one (in, 4H) matrix per input, same row-vector algebra.
        self.register_buffer("W", torch.cat([as_tensor(f"W_{g}") for g in GATES], dim=1))
        self.register_buffer("U", torch.cat([as_tensor(f"U_{g}") for g in GATES], dim=1))
        self.register_buffer("b", torch.cat([as_tensor(f"b_{g}") for g in GATES]))
        self.register_buffer("W_out", as_tensor("W_out"))
        self.register_buffer("b_out", as_tensor("b_out"))
        self.hidden = int(self.U.shape[0])
        self.vocab_size = int(self.W_out.shape[1])

    @classmethod
    def from_npz(cls, path: str | Path | None = None, seq_len: int = SEQ_LEN) -> "OracleLSTM":
        """Load the oracle (default: the shared `seqgan_oracle.npz`)."""
        path = Path(path) if path is not None else oracle_path()
        try:
            with np.load(path, allow_pickle=False) as data:
                weights = {name: data[name] for name in data.files}
        except (OSError, ValueError) as exc:
            raise ConfigError(f"'{path}' is not a readable oracle .npz file: {exc}") from exc
        needed = {"embedding", "W_out", "b_out"} | {
            f"{m}_{g}" for m in ("W", "U") for g in GATES
        } | {f"b_{g}" for g in GATES}
        missing = sorted(needed - set(weights))
        if missing:
            raise ConfigError(f"'{path}' lacks oracle arrays {missing}: use seqgan_oracle.npz")
        return cls(weights, seq_len)

    @classmethod
    def random(
        cls, vocab_size: int, hidden: int, seq_len: int = SEQ_LEN, seed: int = 0,
        scale: float = 1.0,
    ) -> "OracleLSTM":
        """A fresh oracle with N(0, scale^2) weights, drawn the way the paper drew its own:
        small ones make fast tests and toy benchmarks."""
        return cls(random_oracle_weights(vocab_size, hidden, seed, scale), seq_len)

    # ------------------------------------------------------------------ the recurrence
    def initial_state(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        zeros = torch.zeros(batch, self.hidden, device=self.W.device)
        return zeros, zeros.clone()

    def cell(
        self, tokens: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One LSTM step on the previous tokens `(B,)`: the new `(h, c)`."""
        h, c = state
        pre = self.embedding[tokens] @ self.W + h @ self.U + self.b
        i, f, o, c_tilde = pre.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(c_tilde)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return h @ self.W_out + self.b_out

    # ------------------------------------------------------------------ sampling and scoring
    @torch.no_grad()
    def sample(
        self, n: int, generator: torch.Generator | None = None, chunk: int = 10_000
    ) -> torch.Tensor:
        """Draw `n` sequences `(n, seq_len)` of token ids (int64) from the oracle."""
        parts = [self._sample_chunk(min(chunk, n - s), generator) for s in range(0, n, chunk)]
        return torch.cat(parts) if parts else torch.zeros(0, self.seq_len, dtype=torch.long)

    def _sample_chunk(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        device = self.W.device
        state = self.initial_state(n)
        previous = torch.full((n,), START_TOKEN, dtype=torch.long, device=device)
        out = torch.empty(n, self.seq_len, dtype=torch.long, device=device)
        for t in range(self.seq_len):
            state = self.cell(previous, state)
            previous = draw_tokens(self.logits(state[0]), generator)
            out[:, t] = previous
        return out

    @torch.no_grad()
    def token_nll(self, samples: torch.Tensor, chunk: int = 10_000) -> torch.Tensor:
        """Per-token negative log-likelihood `(n, T)` of `samples` under the oracle (teacher
        forcing: all sequences of a chunk advance one position at a time together)."""
        samples = self._check(samples)
        parts = []
        for start in range(0, len(samples), chunk):
            batch = samples[start : start + chunk]
            state = self.initial_state(len(batch))
            previous = torch.full((len(batch),), START_TOKEN, dtype=torch.long, device=batch.device)
            columns = []
            for t in range(batch.shape[1]):
                state = self.cell(previous, state)
                columns.append(
                    nn.functional.cross_entropy(
                        self.logits(state[0]), batch[:, t], reduction="none"
                    )
                )
                previous = batch[:, t]
            parts.append(torch.stack(columns, dim=1))
        return torch.cat(parts)

    def nll(self, samples: torch.Tensor, chunk: int = 10_000) -> float:
        """NLL_oracle: mean per-token negative log-likelihood (nats) of `samples`."""
        return float(self.token_nll(samples, chunk).mean())

    def _check(self, samples: torch.Tensor) -> torch.Tensor:
        if samples.dim() != 2:
            raise ValueError(f"samples must be (n, T) token ids, got shape {tuple(samples.shape)}")
        if samples.numel() and (samples.min() < 0 or samples.max() >= self.vocab_size):
            raise ValueError(f"token ids must lie in [0, {self.vocab_size})")
        return samples.to(self.W.device, torch.long)


def random_oracle_weights(
    vocab_size: int, hidden: int, seed: int = 0, scale: float = 1.0
) -> dict[str, np.ndarray]:
    """Oracle arrays (the `.npz` layout) drawn from N(0, scale^2) with NumPy seed `seed`."""
    rng = np.random.default_rng(seed)
    weights = {
        "embedding": rng.normal(0, scale, (vocab_size, hidden)),
        "W_out": rng.normal(0, scale, (hidden, vocab_size)),
        "b_out": rng.normal(0, scale, vocab_size),
    }
    for gate in GATES:
        weights[f"W_{gate}"] = rng.normal(0, scale, (hidden, hidden))
        weights[f"U_{gate}"] = rng.normal(0, scale, (hidden, hidden))
        weights[f"b_{gate}"] = rng.normal(0, scale, hidden)
    return weights
