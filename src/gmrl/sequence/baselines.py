"""Baselines of the SeqGAN paper's Table 1 on the same oracle: a random (untrained) generator,
maximum likelihood (MLE), scheduled sampling (Bengio et al. 2015) and PG-BLEU.

Scheduled sampling trains like MLE but, at each position, feeds the model its own sampled token
instead of the true previous token with probability `p`; `p` grows linearly over the epochs up
to `max_prob` (the curriculum), so the model learns to recover from its own mistakes.

PG-BLEU is SeqGAN with the discriminator replaced by a fixed reward: the BLEU score of each
rollout completion against the training data, so it measures what the adversarial reward adds
over a hand-made similarity-to-data reward.
"""

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from gmrl.generative.autoregressive import AutoregressiveModel
from gmrl.sequence.bleu import ReferenceBLEU
from gmrl.sequence.generation import draw_tokens
from gmrl.sequence.generator import build_generator
from gmrl.sequence.seqgan import RolloutConfig, RolloutPolicyGradient

_ROLLOUT = RolloutConfig()

__all__ = ["build_generator", "pg_bleu", "scheduled_sampling", "scheduled_sampling_loss"]


def scheduled_sampling_loss(
    model: AutoregressiveModel, tokens: torch.Tensor, prob: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Mean per-token cross-entropy when each input is the model's own sample with prob `prob`."""
    batch, length = tokens.shape
    state = model.initial_state(batch)
    previous = model.start_tokens(batch)
    losses = []
    for t in range(length):
        logits, state = model.step_logits(previous, state)
        losses.append(F.cross_entropy(logits, tokens[:, t]))
        own = draw_tokens(logits.detach(), generator)
        coin = torch.rand(batch, generator=generator).to(tokens.device) < prob
        previous = torch.where(coin, own, tokens[:, t])
    return torch.stack(losses).mean()


def scheduled_sampling(
    model: AutoregressiveModel, data: torch.Tensor, epochs: int, max_prob: float = 0.25,
    batch_size: int = 64, generator: torch.Generator | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[float]:
    """Train `model` in place with scheduled sampling; returns the mean loss of each epoch.

    `should_stop()` is asked after every epoch (e.g. a pending Ctrl-C): True ends training early.
    """
    optimizer = model.optimizers["adam"]
    history = []
    model.train()
    for epoch in range(epochs):
        prob = max_prob * (epoch + 1) / epochs
        order = torch.randperm(len(data), generator=generator).to(data.device)
        total, batches = 0.0, 0
        for start in range(0, len(data), batch_size):
            loss = scheduled_sampling_loss(
                model, data[order[start : start + batch_size]], prob, generator
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if model.grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), model.grad_clip)
            optimizer.step()
            total += float(loss.detach())
            batches += 1
        history.append(total / max(batches, 1))
        if should_stop is not None and should_stop():
            break
    model.eval()
    return history


def pg_bleu(
    model: AutoregressiveModel, references: torch.Tensor, rounds: int, batch_size: int = 64,
    n_rollouts: int = _ROLLOUT.n_rollouts, rollout_rate: float = _ROLLOUT.rollout_rate,
    lr: float = _ROLLOUT.lr, grad_clip: float | None = None,
    generator: torch.Generator | None = None, should_stop: Callable[[], bool] | None = None,
) -> list[float]:
    """Train `model` in place by PG-BLEU; returns the mean per-token reward of each round.

    Rollout defaults are `RolloutConfig`'s; `grad_clip=None` uses the model's own clip.
    `should_stop()` is asked after every round: True ends training early.
    """
    bleu = ReferenceBLEU(references, vocab_size=model.vocab_size)
    clip = model.grad_clip if grad_clip is None else grad_clip
    trainer = RolloutPolicyGradient(model, bleu, n_rollouts, rollout_rate, lr, clip)
    rewards = []
    for _ in range(rounds):
        rewards.append(trainer.generator_step(batch_size, generator)["charts/mean_reward"])
        trainer.update_rollout()
        if should_stop is not None and should_stop():
            break
    return rewards
