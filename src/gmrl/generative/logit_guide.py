"""Logit guides: a known per-token score folded into an autoregressive policy's logits.

A guide maps token sequences `(B, T)` to offsets `(B, T, V)`: entry `[b, t, v]` is added to
the logit of token v at position t, and may depend only on the prefix `tokens[b, :t]` (never on
token t or later), so the guided model is still a normalised autoregressive policy:

    pi_guided(v | x_<t) = softmax(logits_t + offsets_t)[v].

Why: the KL-regularised optimum of a reward r is p(v | x_<t) exp((r(x_<t, v) + V(x_<=t)) / beta)
up to normalisation. Where the immediate part r is known for every token (a rule that can be
scored for all alternatives at once), folding r / beta into the logits puts it exactly into the
policy, at every state, including the rare ones sampling never shows a learner; the network is
left to learn the rest (the future value). It is prior knowledge in the policy's structure, and
whatever samples from the policy afterwards must apply the same guide.

```python
class NoRepeats(LogitGuide):
    def offsets(self, tokens):                      # forbid repeating the previous token
        out = torch.zeros(*tokens.shape, model.vocab_size)
        out[:, 1:].scatter_(-1, tokens[:, :-1, None], -30.0)
        return out
x = model.sample(64, generator=g, guide=NoRepeats())
```
"""

import torch


class LogitGuide:
    """Offsets added to a model's logits; subclasses implement `offsets`.

    `next_offsets(prefix)` (the offsets of the token after a `(B, t)` prefix) is what sampling
    calls once per position; the default scores the prefix plus a placeholder token with
    `offsets`, so override it where scoring one position is much cheaper than all of them.
    """

    def offsets(self, tokens: torch.Tensor) -> torch.Tensor:
        """`(B, T, V)` offsets for every position of `tokens (B, T)` (causal, see module doc)."""
        raise NotImplementedError

    def next_offsets(self, prefix: torch.Tensor) -> torch.Tensor:
        """`(B, V)` offsets of the next token after `prefix (B, t)` (t may be 0)."""
        placeholder = prefix.new_zeros(len(prefix), 1)
        return self.offsets(torch.cat([prefix, placeholder], dim=1))[:, -1]
