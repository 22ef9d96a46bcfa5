"""SeqGAN (Yu et al. 2017): a token generator trained as a policy against a discriminator.

Each token is an action; the reward of token t is the discriminator's probability that the
sequence is real, estimated for a partial sequence y_1..y_t by Monte-Carlo: a delayed copy of the
generator (the *rollout network*) completes y_1..y_t `n_rollouts` times and the completions are
scored. The reward of the last token is the score of the full sequence itself:

    Q(y_1..y_t) = mean_r D(complete_r(y_1..y_t))    for t < T
    Q(y_1..y_T) = D(y_1..y_T)

The generator then takes a REINFORCE step, -mean_t log G(y_t | y_<t) * Q(y_1..y_t), and the
rollout network moves towards it: theta_rollout <- rate * theta_rollout + (1 - rate) * theta.

Rollouts are vectorised: the rollout network reads each sampled sequence once (one pass over T),
keeping its state after every prefix; all B x (T-1) x n_rollouts completions then advance
together, ordered by prefix length so that at completion step s only the rows that still have
tokens to draw are computed (no wasted work, one batched step per position).
"""

import copy
from collections.abc import Callable
from typing import Any

import torch
from pydantic import Field
from torch import nn

from gmrl.core.config import PositiveFloat, Probability, StrictModel
from gmrl.core.errors import ConfigError
from gmrl.generative.autoregressive import AutoregressiveModel
from gmrl.rl.policy_gradient.losses import policy_gradient_loss
from gmrl.sequence.discriminator import CNNDiscriminator, DiscriminatorConfig
from gmrl.sequence.generation import draw_tokens, sample_sequences
from gmrl.sequence.generator import GeneratorConfig

Scorer = Callable[[torch.Tensor], torch.Tensor]  # (N, T) tokens -> (N,) reward in [0, 1]


class RolloutConfig(StrictModel):
    """The policy-gradient part of SeqGAN and PG-BLEU (the paper's values are the defaults)."""

    n_rollouts: int = Field(16, ge=1, description="Monte-Carlo completions per prefix")
    rollout_rate: Probability = Field(
        0.8, description="share of the rollout network kept at each update"
    )
    lr: PositiveFloat = Field(0.01, description="Adam learning rate of the generator updates")


_ROLLOUT = RolloutConfig()
_GRAD_CLIP = GeneratorConfig().grad_clip


def _map_state(state: Any, fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    """Apply `fn` to each tensor of a recurrent state (a tensor or a tuple of tensors)."""
    if isinstance(state, tuple):
        return tuple(fn(part) for part in state)
    return fn(state)


def _check_recurrent(model: nn.Module) -> None:
    if getattr(model, "cell", None) == "transformer":
        raise ConfigError(
            "SeqGAN's vectorised rollouts need a recurrent generator: use cell=lstm or cell=gru"
        )


@torch.no_grad()
def rollout_completions(
    model: AutoregressiveModel, samples: torch.Tensor, n_rollouts: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Complete every proper prefix of every sample `n_rollouts` times.

    Returns `(T-1, B, n_rollouts, T)`: entry `[k-1, b, r]` starts with `samples[b, :k]` and
    continues with tokens drawn from `model`.
    """
    _check_recurrent(model)
    was_training = model.training
    model.eval()
    batch, length = samples.shape
    samples = samples.to(model.device)
    # One teacher-forced pass: after reading y_1..y_k, keep the logits of y_{k+1} and the state.
    state = model.initial_state(batch)
    previous = model.start_tokens(batch)
    step_logits, step_states = [], []
    for t in range(length):
        logits, state = model.step_logits(previous, state)
        if t >= 1:  # prefix of length t read
            step_logits.append(logits)
            step_states.append(state)
        previous = samples[:, t]
    def repeat(x: torch.Tensor) -> torch.Tensor:
        return x.repeat_interleave(n_rollouts, dim=0)

    # Rows ordered by prefix length k = 1..T-1, then sample, then rollout.
    logits = repeat(torch.cat(step_logits))
    state = _map_state(
        tuple(torch.cat(parts, dim=1) for parts in zip(*step_states, strict=True))
        if isinstance(step_states[0], tuple) else torch.cat(step_states, dim=1),
        lambda x: x.repeat_interleave(n_rollouts, dim=1),
    )
    prefix_len = repeat(torch.arange(1, length, device=samples.device).repeat_interleave(batch))
    out = repeat(samples.repeat(length - 1, 1)).clone()
    per_length = batch * n_rollouts
    tokens = draw_tokens(logits, generator)
    for s in range(length - 1):  # completion step s writes position k + s
        active = (length - 1 - s) * per_length  # rows with k + s <= T - 1 (0-based position)
        rows = torch.arange(active, device=samples.device)
        if s > 0:
            state = _map_state(state, lambda x, n=active: x[:, :n])  # type: ignore[misc]
            logits, state = model.step_logits(tokens[:active], state)
            tokens = draw_tokens(logits, generator)
        out[rows, prefix_len[:active] + s] = tokens[:active]
    model.train(was_training)
    return out.view(length - 1, batch, n_rollouts, length)


@torch.no_grad()
def rollout_rewards(
    model: AutoregressiveModel, samples: torch.Tensor, scorer: Scorer, n_rollouts: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Per-token rewards `(B, T)`: column t-1 scores prefix y_1..y_t (Monte-Carlo mean over
    completions), the last column scores the full sequence."""
    batch, length = samples.shape
    completions = rollout_completions(model, samples, n_rollouts, generator)
    scores = scorer(completions.reshape(-1, length)).view(length - 1, batch, n_rollouts)
    partial = scores.mean(dim=2).transpose(0, 1)  # (B, T-1)
    final = scorer(samples.to(completions.device)).view(batch, 1)
    return torch.cat([partial, final], dim=1)


class RolloutPolicyGradient:
    """A generator trained as a policy on a fixed sequence score, with Monte-Carlo rollouts.

    The reward machinery SeqGAN and PG-BLEU share: a rollout network (a delayed copy of the
    generator) completes every prefix `n_rollouts` times, `scorer` rates the completions, and
    the generator takes REINFORCE steps on those per-token rewards. PG-BLEU is this class with
    `scorer` = BLEU against the training data (`gmrl.sequence.bleu.ReferenceBLEU`).

    Args:
        generator: an `AutoregressiveModel` (recurrent cell), usually MLE-pretrained.
        scorer: `(N, T)` tokens -> `(N,)` rewards in [0, 1].
        n_rollouts, rollout_rate, lr: see `RolloutConfig` (defaults: the paper's 16, 0.8, 0.01).
        grad_clip: generator gradient-norm clip (default `GeneratorConfig.grad_clip`, the
            paper's 5.0).
    """

    def __init__(
        self, generator: AutoregressiveModel, scorer: Scorer,
        n_rollouts: int = _ROLLOUT.n_rollouts, rollout_rate: float = _ROLLOUT.rollout_rate,
        lr: float = _ROLLOUT.lr, grad_clip: float = _GRAD_CLIP,
    ) -> None:
        _check_recurrent(generator)
        if n_rollouts < 1:
            raise ConfigError(f"n_rollouts must be >= 1, got {n_rollouts}")
        if not 0.0 <= rollout_rate <= 1.0:
            raise ConfigError(f"rollout_rate must lie in [0, 1], got {rollout_rate}")
        self.generator = generator
        self.scorer = scorer
        self.rollout = copy.deepcopy(generator).eval()
        for parameter in self.rollout.parameters():
            parameter.requires_grad_(False)
        self.n_rollouts = n_rollouts
        self.rollout_rate = rollout_rate
        self.grad_clip = grad_clip
        self.optimizer = torch.optim.Adam(generator.parameters(), lr=lr)

    def generator_step(self, batch_size: int, generator: torch.Generator | None = None) -> dict:
        """Sample a batch, reward every token by rollouts, take one REINFORCE step."""
        samples = sample_sequences(self.generator, batch_size, generator)
        rewards = rollout_rewards(self.rollout, samples, self.scorer, self.n_rollouts, generator)
        self.generator.train()
        log_probs = self.generator.token_log_probs(samples)
        loss = policy_gradient_loss(log_probs, rewards)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.generator.parameters(), self.grad_clip)
        self.optimizer.step()
        self.generator.eval()
        return {"losses/policy_loss": float(loss.detach()),
                "charts/mean_reward": float(rewards.mean()),
                "charts/final_reward": float(rewards[:, -1].mean())}

    @torch.no_grad()
    def sync_rollout(self) -> None:
        """Make the rollout network an exact copy of the generator (e.g. after MLE training)."""
        self.rollout.load_state_dict(self.generator.state_dict())

    @torch.no_grad()
    def update_rollout(self) -> None:
        """theta_rollout <- rate * theta_rollout + (1 - rate) * theta_generator."""
        for mine, theirs in zip(
            self.rollout.parameters(), self.generator.parameters(), strict=True
        ):
            mine.mul_(self.rollout_rate).add_(theirs.detach(), alpha=1.0 - self.rollout_rate)


class SeqGAN(RolloutPolicyGradient):
    """Generator, rollout network and discriminator with the paper's alternating updates:
    the reward is the discriminator's probability that a completion is real.

    Args:
        generator: an `AutoregressiveModel` (recurrent cell), usually MLE-pretrained.
        discriminator: a `CNNDiscriminator`.
        n_rollouts, rollout_rate, lr, grad_clip: as for `RolloutPolicyGradient`
            (defaults: `RolloutConfig` and `GeneratorConfig.grad_clip`).
    """

    def __init__(
        self, generator: AutoregressiveModel, discriminator: CNNDiscriminator,
        n_rollouts: int = _ROLLOUT.n_rollouts, rollout_rate: float = _ROLLOUT.rollout_rate,
        lr: float = _ROLLOUT.lr, grad_clip: float = _GRAD_CLIP,
    ) -> None:
        super().__init__(generator, discriminator.prob_real, n_rollouts, rollout_rate, lr,
                         grad_clip)
        self.discriminator = discriminator

    def discriminator_step(
        self, real: torch.Tensor, n_negative: int, epochs: int,
        batch_size: int = DiscriminatorConfig().batch_size,
        generator: torch.Generator | None = None,
    ) -> dict:
        """Draw fresh negatives, pair them with as many real sequences, train `epochs` passes."""
        fake = sample_sequences(self.generator, n_negative, generator)
        pick = torch.randperm(len(real), generator=generator)[:n_negative]
        positives = real[pick.to(real.device)]
        loss = self.discriminator.fit(positives, fake, epochs, batch_size, generator)
        return {"losses/discriminator_loss": loss}

    # ---------------------------------------------------------------- checkpoints
    def state(self) -> dict[str, Any]:
        return {
            "rollout": dict(self.rollout.state_dict()),
            "discriminator": dict(self.discriminator.state_dict()),
            "discriminator_optimizer": self.discriminator.optimizer.state_dict(),
            "optimizer": self.optimizer.state_dict(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.rollout.load_state_dict(state["rollout"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.discriminator.optimizer.load_state_dict(state["discriminator_optimizer"])
        self.optimizer.load_state_dict(state["optimizer"])
