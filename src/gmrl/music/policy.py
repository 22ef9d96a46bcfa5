"""A tuned melody generator as one savable object, whatever tuned it.

Sampling a melody needs different networks per algorithm: the Note-RNN itself, the policy of an
on-policy tuner (an `AutoregressiveModel`), softmax(Q) of Q- or Psi-learning, or
softmax(log p + G) of G-learning, which also needs the frozen prior. `MelodyPolicy` wraps a
network whose step logits are the policy's logits, plus the prior when G-learning adds it, plus
the offsets of a `RuleGuide` when the tuner folded rules into its logits, and samples batched
compositions; `save_policy` / `load_policy` store it as a gmrl artifact so that
`gmrl music generate RUN_DIR` can rebuild it from `RUN_DIR/policy.safetensors`.
"""

from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from gmrl.core.checkpoint import load_artifact, restore_or_explain, save_artifact
from gmrl.core.errors import CheckpointError
from gmrl.generative.autoregressive import AutoregressiveModel
from gmrl.music.guide import RuleGuide

ARTIFACT_KIND = "melody_policy"


class MelodyPolicy:
    """Sample compositions from `net`'s logits (+ `prior`'s log-probabilities, + `guide`'s
    offsets, when given)."""

    def __init__(
        self, net: AutoregressiveModel, prior: AutoregressiveModel | None = None, name: str = "",
        guide: RuleGuide | None = None,
    ) -> None:
        if prior is not None and guide is not None:
            raise ValueError("a MelodyPolicy takes a prior (G-learning) or a guide, not both")
        self.net = net
        self.prior = prior
        self.name = name
        self.guide = guide

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator) -> torch.Tensor:
        """`(n, T)` compositions on the CPU, one loop over the T steps."""
        if self.prior is None:
            return self.net.sample(n, generator=generator, guide=self.guide).cpu()
        steps, device = self.net.seq_len, self.net.device
        out = torch.empty(n, steps, dtype=torch.long)
        prev = self.net.start_tokens(n)
        state, prior_state = self.net.initial_state(n), self.prior.initial_state(n)
        for t in range(steps):
            logits, state = self.net.step_logits(prev, state)
            prior_logits, prior_state = self.prior.step_logits(prev, prior_state)
            logits = logits + F.log_softmax(prior_logits, dim=-1)
            probs = F.softmax(logits.float().cpu(), dim=-1)
            action = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            out[:, t] = action
            prev = action.to(device)
        return out

    @torch.no_grad()
    def log_probs(self, events: torch.Tensor) -> torch.Tensor:
        """Teacher-forced `(B, T, A)` log-probabilities of the policy at every prefix."""
        events = events.to(self.net.device)
        logits = self.net.sequence_logits(events)
        if self.guide is not None:
            logits = logits + self.guide.offsets(events).to(logits)
        if self.prior is not None:
            logits = logits + F.log_softmax(self.prior.sequence_logits(events), dim=-1)
        return F.log_softmax(logits, dim=-1)


def save_policy(policy: MelodyPolicy, path: str | Path) -> Path:
    """Save as an artifact: the net's constructor arguments and weights, the prior's if any,
    the guide's description if any."""
    state: dict[str, Any] = {"net": dict(policy.net.state_dict())}
    if policy.prior is not None:
        state["prior"] = dict(policy.prior.state_dict())
    extra: dict[str, Any] = {"name": policy.name}
    if policy.guide is not None:
        extra["guide"] = policy.guide.to_dict()
    return save_artifact(
        path, kind=ARTIFACT_KIND, cls=type(policy.net), init=dict(policy.net.hparams),
        state=state, extra=extra,
    )


def load_policy(path: str | Path) -> MelodyPolicy:
    """Rebuild a `MelodyPolicy` saved by `save_policy` (one-line `CheckpointError` otherwise)."""
    artifact = load_artifact(path, kind=ARTIFACT_KIND, base=AutoregressiveModel)
    net = artifact.cls(**artifact.init).eval()
    prior = artifact.cls(**artifact.init).eval() if "prior" in artifact.state else None

    def restore() -> None:
        net.load_state_dict(artifact.state["net"])
        if prior is not None:
            prior.load_state_dict(artifact.state["prior"])

    restore_or_explain(path, "a melody policy", restore)
    guide = None
    if "guide" in artifact.extra:
        try:
            guide = RuleGuide.from_dict(artifact.extra["guide"])
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(
                f"{path}: its rule guide cannot be rebuilt ({error}); re-save the policy "
                "with this gmrl version"
            ) from None
    return MelodyPolicy(net, prior, str(artifact.extra.get("name", "")), guide)
