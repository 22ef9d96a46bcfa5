"""Fast batched sampling from any model with the policy-style API (`initial_state`,
`start_tokens`, `step_logits`), and the generator-side NLL_test.

Sampling uses the inverse CDF (one uniform draw per row and a binary search in the cumulative
probabilities), which on CPU is about ten times faster than `torch.multinomial` over a
5,000-token vocabulary, and draws from the same distribution.
"""

from typing import TYPE_CHECKING

import torch
from torch.nn import functional as F

if TYPE_CHECKING:  # a runtime import would be circular (autoregressive imports this module)
    from gmrl.generative.autoregressive import AutoregressiveModel


def draw_tokens(
    logits: torch.Tensor, generator: torch.Generator | None = None, temperature: float = 1.0
) -> torch.Tensor:
    """One token per row of `logits` `(N, V)` from softmax(logits / temperature)."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = F.softmax(logits.float() / temperature, dim=-1)
    cumulative = probs.cumsum(dim=-1)
    gen_device = generator.device if generator is not None else cumulative.device
    uniform = torch.rand(len(probs), 1, generator=generator, device=gen_device)
    target = uniform.to(cumulative.device) * cumulative[:, -1:]
    index = torch.searchsorted(cumulative, target).squeeze(1)
    return index.clamp_max(probs.shape[1] - 1)


@torch.no_grad()
def sample_sequences(
    model: "AutoregressiveModel",
    n: int,
    generator: torch.Generator | None = None,
    temperature: float = 1.0,
    chunk: int = 10_000,
) -> torch.Tensor:
    """`(n, model.seq_len)` sequences sampled in chunks (eval mode, no gradients)."""
    was_training = model.training
    model.eval()
    parts = []
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        state = model.initial_state(size)
        previous = model.start_tokens(size)
        columns = []
        for _ in range(model.seq_len):
            logits, state = model.step_logits(previous, state)
            previous = draw_tokens(logits, generator, temperature)
            columns.append(previous)
        parts.append(torch.stack(columns, dim=1))
    model.train(was_training)
    return torch.cat(parts) if parts else torch.zeros(0, model.seq_len, dtype=torch.long)


@torch.no_grad()
def model_nll(
    model: "AutoregressiveModel", tokens: torch.Tensor, temperature: float = 1.0, chunk: int = 2_000
) -> float:
    """NLL_test: the model's mean per-token negative log-likelihood of `tokens` (nats), for the
    model sampled at `temperature` (logits divided by it)."""
    was_training = model.training
    model.eval()
    total = 0.0
    for start in range(0, len(tokens), chunk):
        batch = tokens[start : start + chunk].to(model.device)
        logits = model.sequence_logits(batch) / temperature
        flat = logits.reshape(-1, logits.shape[-1])
        total += float(F.cross_entropy(flat, batch.reshape(-1), reduction="sum"))
    model.train(was_training)
    return total / max(tokens.numel(), 1)
