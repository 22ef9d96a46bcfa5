"""Gymnasium-free policy-gradient pieces shared by control agents and sequence generators.

Shapes follow one convention: time is the last axis, `(batch, T)`, so a batch of token sequences
and a batch of episode segments look alike.
"""

import torch


def discounted_returns(
    rewards: torch.Tensor, dones: torch.Tensor | None = None, gamma: float = 0.99,
    bootstrap: torch.Tensor | None = None,
) -> torch.Tensor:
    """Reward-to-go G_t = r_t + gamma * G_{t+1}, reset after `dones`, for `(batch, T)` rewards.

    `bootstrap` (batch,) is the value estimate after the last step (0 when omitted), used when a
    segment is cut by truncation rather than termination.
    """
    returns = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[..., 0]) if bootstrap is None else bootstrap.to(rewards)
    for t in range(rewards.shape[-1] - 1, -1, -1):
        if dones is not None:
            running = running * (1.0 - dones[..., t].to(rewards))
        running = rewards[..., t] + gamma * running
        returns[..., t] = running
    return returns


def generalized_advantage(
    rewards: torch.Tensor, values: torch.Tensor, next_values: torch.Tensor,
    terminated: torch.Tensor, ends: torch.Tensor, gamma: float = 0.99, lam: float = 0.95,
) -> torch.Tensor:
    """GAE(lambda) advantages for `(batch, T)` tensors.

    `terminated` stops bootstrapping (true end of the task); `ends` (terminated or truncated)
    stops the advantage recursion across episode boundaries. Keeping the two apart is what makes
    time-limit truncation bootstrap correctly.
    """
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[..., 0])
    for t in range(rewards.shape[-1] - 1, -1, -1):
        not_terminal = 1.0 - terminated[..., t].to(rewards)
        delta = rewards[..., t] + gamma * next_values[..., t] * not_terminal - values[..., t]
        running = delta + gamma * lam * (1.0 - ends[..., t].to(rewards)) * running
        advantages[..., t] = running
    return advantages


def policy_gradient_loss(
    log_probs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """REINFORCE surrogate: -mean(log pi(a|s) * A), advantages treated as constants.

    `mask` (same shape) excludes padding, e.g. positions after a sequence's end.
    """
    weighted = log_probs * advantages.detach()
    if mask is None:
        return -weighted.mean()
    mask = mask.to(weighted)
    return -(weighted * mask).sum() / mask.sum().clamp_min(1.0)
