"""Policy-gradient methods written in gmrl: REINFORCE with a baseline and actor-critic.

The loss functions in `losses` know nothing about Gymnasium, so the same core trains a sequence
generator whose actions are tokens (see `gmrl.sequence`).
"""

from gmrl.rl.policy_gradient.losses import (
    discounted_returns,
    generalized_advantage,
    policy_gradient_loss,
)

__all__ = ["discounted_returns", "generalized_advantage", "policy_gradient_loss"]
