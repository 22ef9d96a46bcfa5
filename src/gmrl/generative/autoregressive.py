"""Autoregressive generative models: token sequences, and vectors quantised into tokens.

`AutoregressiveModel` is an exact-likelihood model of fixed-length sequences of integer tokens
`(N, T)` with a GRU, LSTM or small causal-transformer core. Besides the `GenerativeModel`
contract it offers the policy-style API that RL trainers (SeqGAN, the KL-regularised tuner) need:

```python
model = AutoregressiveModel(vocab_size=8, seq_len=12, cell="gru")
model.fit(tokens, epochs=20, generator=g)                 # maximum likelihood (teacher forcing)
x = model.sample(64, generator=g)                         # (64, 12) LongTensor
done = model.sample(64, generator=g, prefix=x[:, :4])     # Monte-Carlo completions of prefixes
logits = model.sequence_logits(x)                         # (64, 12, 8): position t sees tokens < t
state = model.initial_state(64)
logits, state = model.step_logits(model.start_tokens(64), state)   # one step at a time
```

A dedicated begin-of-sequence index (`model.bos_token == vocab_size`) is only ever an input, so
every id in `range(vocab_size)` stays usable as data.

`BinnedAutoregressive` models continuous vectors `(N, D)` by quantising each coordinate into
uniform bins over `[low, high]` and modelling the D bin indices autoregressively. Sampling draws
uniformly inside the chosen bin, so `log_prob` is the exact log-density of that piecewise-uniform
distribution: `log p(bins) - D * log(bin width)`.
"""

import math
import warnings
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from gmrl.core.errors import ConfigError, DataError
from gmrl.generative.base import GenerativeModel
from gmrl.generative.logit_guide import LogitGuide

CELLS = ("gru", "lstm", "transformer")

RecurrentState = torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None


def _multinomial(probs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One draw per row of `probs`, using `generator` even when it lives on another device."""
    if generator is not None and generator.device != probs.device:
        return torch.multinomial(probs.to(generator.device), 1, generator=generator).squeeze(1).to(
            probs.device
        )
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


class _CausalTransformer(nn.Module):
    """A small pre-norm decoder-only transformer over `(B, t, d)` inputs with learned positions."""

    def __init__(self, dim: int, heads: int, layers: int, max_len: int, dropout: float) -> None:
        super().__init__()
        self.positions = nn.Embedding(max_len, dim)
        layer = nn.TransformerEncoderLayer(
            dim, heads, dim_feedforward=4 * dim, dropout=dropout, batch_first=True,
            norm_first=True,
        )
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        length = inputs.shape[1]
        if length > self.positions.num_embeddings:
            raise ValueError(
                f"sequence of length {length} exceeds the transformer's seq_len "
                f"{self.positions.num_embeddings}"
            )
        positions = torch.arange(length, device=inputs.device)
        mask = nn.Transformer.generate_square_subsequent_mask(length, device=inputs.device)
        hidden = self.blocks(inputs + self.positions(positions), mask=mask, is_causal=True)
        return self.norm(hidden)


class AutoregressiveModel(GenerativeModel):
    """Exact-likelihood model of token sequences `(N, seq_len)` with ids in `range(vocab_size)`.

    Args:
        vocab_size: number of data tokens; the model adds one begin-of-sequence input index.
        seq_len: length of sampled sequences (and the transformer's maximum context).
        embed_dim: token embedding size.
        hidden: recurrent state size / transformer width.
        layers: stacked recurrent layers or transformer blocks.
        cell: "gru", "lstm" or "transformer" (causal self-attention).
        heads: attention heads (transformer only; must divide `hidden`).
        dropout: dropout on embeddings and core outputs (active in train mode only).
        lr: Adam learning rate for maximum-likelihood training.
        grad_clip: maximum global gradient norm (0 disables clipping).
    """

    family: ClassVar[str] = "autoregressive"
    log_prob_kind: ClassVar[str] = "exact"

    def __init__(
        self,
        vocab_size: int,
        seq_len: int,
        embed_dim: int = 32,
        hidden: int = 64,
        layers: int = 1,
        cell: str = "gru",
        heads: int = 4,
        dropout: float = 0.0,
        lr: float = 1e-3,
        grad_clip: float = 1.0,
    ) -> None:
        super().__init__(
            vocab_size=vocab_size, seq_len=seq_len, embed_dim=embed_dim, hidden=hidden,
            layers=layers, cell=cell, heads=heads, dropout=dropout, lr=lr, grad_clip=grad_clip,
        )
        if cell not in CELLS:
            raise ConfigError(
                f"unknown cell '{cell}' for the autoregressive model: use {', '.join(CELLS)}"
            )
        sizes = {"vocab_size": vocab_size, "seq_len": seq_len, "embed_dim": embed_dim,
                 "hidden": hidden, "layers": layers}
        for name, value in sizes.items():
            if int(value) < 1:
                raise ConfigError(f"autoregressive model needs {name} >= 1, got {value}")
        if cell == "transformer" and hidden % heads != 0:
            raise ConfigError(f"transformer hidden={hidden} must be divisible by heads={heads}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must lie in [0, 1), got {dropout}")
        self.vocab_size = int(vocab_size)
        self.seq_len = int(seq_len)
        self.cell = cell
        self.lr = float(lr)
        self.grad_clip = float(grad_clip)
        self.embedding = nn.Embedding(self.vocab_size + 1, embed_dim)  # last row: BOS
        self.dropout = nn.Dropout(dropout)
        if cell == "transformer":
            self.core: nn.Module = nn.Sequential(
                nn.Linear(embed_dim, hidden),
                _CausalTransformer(hidden, heads, layers, self.seq_len, dropout),
            )
        else:
            rnn = nn.GRU if cell == "gru" else nn.LSTM
            self.core = rnn(embed_dim, hidden, layers, batch_first=True,
                            dropout=dropout if layers > 1 else 0.0)
        self.head = nn.Linear(hidden, self.vocab_size)

    # ------------------------------------------------------------------ tokens and states
    @property
    def bos_token(self) -> int:
        """The begin-of-sequence input index (`vocab_size`); never produced by the model."""
        return self.vocab_size

    def start_tokens(self, batch_size: int) -> torch.Tensor:
        """`(batch_size,)` begin-of-sequence tokens: the `prev_tokens` of the first step."""
        return torch.full((batch_size,), self.bos_token, dtype=torch.long, device=self.device)

    def initial_state(self, batch_size: int) -> Any:
        """Recurrent state before the first token: zeros for GRU/LSTM, `None` for the transformer.

        The transformer's state is the `(B, t)` tensor of inputs seen so far (it re-reads its
        whole context each step; sequences here are short).
        """
        if self.cell == "transformer":
            return None
        rnn: nn.RNNBase = self.core  # type: ignore[assignment]
        zeros = torch.zeros(rnn.num_layers, batch_size, rnn.hidden_size, device=self.device)
        return (zeros, zeros.clone()) if self.cell == "lstm" else zeros

    def _check_tokens(
        self, tokens: torch.Tensor, name: str = "tokens", *, full_length: bool = False
    ) -> torch.Tensor:
        """Token ids `(batch, time)` on the model's device, or a one-line `DataError`.

        `full_length` demands `time == seq_len` (likelihoods and training are defined on whole
        sequences); otherwise any prefix length `1..seq_len` is accepted (teacher forcing).
        """
        if not isinstance(tokens, torch.Tensor):
            kind = type(tokens).__name__
            raise DataError(f"{name} must be a torch.Tensor of token ids, got {kind}")
        if tokens.dim() != 2:
            raise DataError(
                f"{name} must be a (batch, time) tensor, got shape {tuple(tokens.shape)}"
            )
        if tokens.dtype.is_floating_point or tokens.dtype == torch.bool:
            raise DataError(f"{name} must hold integer token ids, got {tokens.dtype}")
        length = tokens.shape[1]
        if full_length and length != self.seq_len:
            raise DataError(
                f"{name} has sequences of length {length}, but the model's seq_len is "
                f"{self.seq_len}: pass (batch, {self.seq_len}) token ids"
            )
        if not 1 <= length <= self.seq_len:
            raise DataError(
                f"{name} has sequences of length {length}, outside 1..seq_len={self.seq_len}"
            )
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= self.vocab_size):
            raise DataError(
                f"{name} hold ids outside [0, {self.vocab_size}): "
                f"min {int(tokens.min())}, max {int(tokens.max())}"
            )
        return tokens.long().to(self.device)

    def _run_core(self, inputs: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        """Core over input ids `(B, t)` -> features `(B, t, hidden)` and the new state."""
        embedded = self.dropout(self.embedding(inputs))
        if self.cell == "transformer":
            return self.dropout(self.core(embedded)), None
        features, state = self.core(embedded, state)
        return self.dropout(features), state

    # ------------------------------------------------------------------ policy-style API
    def step_logits(self, prev_tokens: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        """Logits `(B, vocab)` of the next token given the previous one and the state.

        Pass `start_tokens(B)` and `initial_state(B)` for the first position.
        """
        prev = prev_tokens.long().to(self.device).unsqueeze(1)
        if self.cell == "transformer":
            context = prev if state is None else torch.cat([state, prev], dim=1)
            features, _ = self._run_core(context, None)
            return self.head(features[:, -1]), context
        features, state = self._run_core(prev, state)
        return self.head(features[:, -1]), state

    def sequence_logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits `(B, T, vocab)`: position t predicts token t from tokens < t."""
        tokens = self._check_tokens(tokens)
        inputs = torch.cat([self.start_tokens(len(tokens)).unsqueeze(1), tokens[:, :-1]], dim=1)
        features, _ = self._run_core(inputs, self.initial_state(len(tokens)))
        return self.head(features)

    def token_log_probs(self, tokens: torch.Tensor) -> torch.Tensor:
        """`(B, seq_len)` log-probability of each token given its prefix (differentiable)."""
        tokens = self._check_tokens(tokens, full_length=True)
        log_probs = F.log_softmax(self.sequence_logits(tokens), dim=-1)
        return log_probs.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact `(B,)` log-likelihood: the sum of `token_log_probs` over positions."""
        return self.token_log_probs(x).sum(dim=1)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        condition: Any = None,
        temperature: float = 1.0,
        prefix: torch.Tensor | None = None,
        guide: LogitGuide | None = None,
    ) -> torch.Tensor:
        """Draw `n` sequences `(n, seq_len)`, batched over samples (one loop over time).

        `prefix` `(B, k)` fixes the first k tokens and samples the rest (Monte-Carlo rollouts);
        `n` must be a multiple of B and each prefix row is repeated `n // B` times in a block.
        `temperature` divides the logits; 0 picks the most likely token. `guide` (a `LogitGuide`)
        adds its offsets for the sampled prefix to each step's logits (before the temperature).
        `condition` is unused. Dropout follows the module's train/eval mode, as in any torch module.
        """
        if condition is not None:
            raise ValueError("AutoregressiveModel is unconditional: pass a prefix, not a condition")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if prefix is None:
            prefix = torch.zeros(n, 0, dtype=torch.long, device=self.device)
        else:
            prefix = self._check_tokens(prefix, "prefix")
            if prefix.shape[1] > self.seq_len:
                raise ValueError(
                    f"prefix of length {prefix.shape[1]} exceeds seq_len {self.seq_len}"
                )
            if len(prefix) == 0 or n % len(prefix) != 0:
                raise ValueError(f"n={n} must be a multiple of the {len(prefix)} prefix rows")
            prefix = prefix.repeat_interleave(n // len(prefix), dim=0)
        known = prefix.shape[1]
        out = torch.zeros(n, self.seq_len, dtype=torch.long, device=self.device)
        out[:, :known] = prefix
        if known == self.seq_len:
            return out
        # Read the prefix in one pass, leaving the last known token as the next input.
        inputs = torch.cat([self.start_tokens(n).unsqueeze(1), prefix], dim=1)
        state = self.initial_state(n)
        if inputs.shape[1] > 1:
            if self.cell == "transformer":
                state = inputs[:, :-1]
            else:
                _, state = self._run_core(inputs[:, :-1], state)
        previous = inputs[:, -1]
        for t in range(known, self.seq_len):
            logits, state = self.step_logits(previous, state)
            if guide is not None:
                logits = logits + guide.next_offsets(out[:, :t]).to(logits)
            if temperature == 0:
                previous = logits.argmax(dim=-1)
            else:
                previous = _multinomial(F.softmax(logits.float() / temperature, dim=-1), generator)
            out[:, t] = previous
        return out

    # ------------------------------------------------------------------ training
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": torch.optim.Adam(self.parameters(), lr=self.lr)}

    def nll_loss(self, tokens: torch.Tensor) -> torch.Tensor:
        """Mean per-token cross-entropy under teacher forcing (the MLE objective)."""
        logits = self.sequence_logits(tokens)
        targets = tokens.reshape(-1).to(self.device)
        return F.cross_entropy(logits.reshape(-1, self.vocab_size), targets)

    def train_step(self, batch: torch.Tensor) -> dict[str, float]:
        """One Adam step on the teacher-forcing cross-entropy, with gradient-norm clipping."""
        tokens = self._check_tokens(batch, "batch")
        optimizer = self.optimizers["adam"]
        loss = self.nll_loss(tokens)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.parameters(), self.grad_clip)
        optimizer.step()
        per_token = float(loss.detach())
        return {"loss": per_token, "nll": per_token * tokens.shape[1]}

    def prepare_fit_data(self, data: torch.Tensor) -> torch.Tensor:
        """Check that `data` is `(N, seq_len)` valid token ids."""
        self._check_tokens(data, "data", full_length=True)
        return data.long()


class BinnedAutoregressive(GenerativeModel):
    """Continuous vectors `(N, data_dim)` as sequences of per-coordinate bin indices.

    Each coordinate is cut into `bins` equal bins over `[low, high]`; an inner
    `AutoregressiveModel` models the `data_dim` bin indices in order, and a sample is drawn
    uniformly inside its bins. The defaults cover the 2-D toy sets of `gmrl.generative.toy`
    (which stay within about [-2.7, 2.7]) with bins of width 0.1.

    `log_prob` is exact for this piecewise-uniform density. Points outside `[low, high]` in any
    coordinate have zero density, so their `log_prob` is `-inf` (filter or widen the range before
    averaging). `fit` clamps such points into the edge bins and warns once per call.
    """

    family: ClassVar[str] = "binned-autoregressive"
    log_prob_kind: ClassVar[str] = "exact"

    def __init__(
        self,
        data_dim: int = 2,
        bins: int = 60,
        low: float = -3.0,
        high: float = 3.0,
        embed_dim: int = 32,
        hidden: int = 128,
        layers: int = 1,
        cell: str = "gru",
        heads: int = 4,
        dropout: float = 0.0,
        lr: float = 3e-3,
        grad_clip: float = 1.0,
    ) -> None:
        super().__init__(
            data_dim=data_dim, bins=bins, low=low, high=high, embed_dim=embed_dim, hidden=hidden,
            layers=layers, cell=cell, heads=heads, dropout=dropout, lr=lr, grad_clip=grad_clip,
        )
        if not high > low:
            raise ConfigError(f"binned model needs high > low, got low={low}, high={high}")
        if bins < 2:
            raise ConfigError(f"binned model needs bins >= 2, got {bins}")
        self.data_dim = int(data_dim)
        self.bins = int(bins)
        self.low = float(low)
        self.high = float(high)
        self.bin_width = (self.high - self.low) / self.bins
        self.inner = AutoregressiveModel(
            vocab_size=self.bins, seq_len=self.data_dim, embed_dim=embed_dim, hidden=hidden,
            layers=layers, cell=cell, heads=heads, dropout=dropout, lr=lr, grad_clip=grad_clip,
        )

    def _check_data(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.data_dim:
            raise ValueError(f"expected data of shape (N, {self.data_dim}), got {tuple(x.shape)}")
        return x.float().to(self.device)

    def quantise(self, x: torch.Tensor) -> torch.Tensor:
        """Bin index of each coordinate, `(N, D)` long; out-of-range values go to the edge bins."""
        x = self._check_data(x)
        index = torch.floor((x - self.low) / self.bin_width).long()
        return index.clamp(0, self.bins - 1)

    def in_range(self, x: torch.Tensor) -> torch.Tensor:
        """`(N,)` bool: every coordinate lies inside `[low, high]`."""
        x = self._check_data(x)
        return ((x >= self.low) & (x <= self.high)).all(dim=1)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self.inner.optimizers  # one optimizer, shared with the inner model

    def train_step(self, batch: torch.Tensor) -> dict[str, float]:
        metrics = self.inner.train_step(self.quantise(batch))
        metrics["nll"] += self.data_dim * math.log(self.bin_width)  # continuous NLL per vector
        return metrics

    def prepare_fit_data(self, data: torch.Tensor) -> torch.Tensor:
        """Float data `(N, data_dim)`; warns about points outside `[low, high]` (clamped)."""
        outside = int((~self.in_range(data)).sum())
        if outside:
            warnings.warn(
                f"{outside} of {len(data)} points lie outside [{self.low}, {self.high}] and are "
                "clamped into the edge bins: widen low/high to model them",
                stacklevel=3,
            )
        return data.float()

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log-density: log p(bins) - D log(width); `-inf` outside `[low, high]`."""
        x = self._check_data(x)
        log_volume = self.data_dim * math.log(self.bin_width)
        log_density = self.inner.log_prob(self.quantise(x)) - log_volume
        return torch.where(self.in_range(x), log_density, torch.full_like(log_density, -math.inf))

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        condition: Any = None,
        temperature: float = 1.0,
    ) -> torch.Tensor:
        """`(n, data_dim)` floats: sampled bins, then a uniform position inside each bin."""
        if condition is not None:
            raise ValueError("BinnedAutoregressive is unconditional: condition must be None")
        index = self.inner.sample(n, generator=generator, temperature=temperature)
        gen_device = generator.device if generator is not None else self.device
        offset = torch.rand(index.shape, generator=generator, device=gen_device).to(self.device)
        return self.low + (index.float() + offset) * self.bin_width
