"""Policy-gradient methods written in gmrl: REINFORCE with a baseline and actor-critic.

The loss functions in `losses` know nothing about Gymnasium, so the same core trains a sequence
generator whose actions are tokens (see `gmrl.sequence`). The agents (`Reinforce`,
`ActorCritic`) train on any Gymnasium env with Discrete or bounded Box actions;
`ReinforceAgent` / `ActorCriticAgent` put them on gmrl's agent contract (`contract`).
"""

from gmrl.rl.policy_gradient.losses import (
    discounted_returns,
    generalized_advantage,
    policy_gradient_loss,
)

__all__ = [
    "ActorCritic",
    "ActorCriticAgent",
    "PolicyGradientAgent",
    "Reinforce",
    "ReinforceAgent",
    "discounted_returns",
    "generalized_advantage",
    "policy_gradient_loss",
]


def __getattr__(name: str):
    if name == "Reinforce":
        from gmrl.rl.policy_gradient.reinforce import Reinforce

        return Reinforce
    if name == "ActorCritic":
        from gmrl.rl.policy_gradient.actor_critic import ActorCritic

        return ActorCritic
    if name == "PolicyGradientAgent":
        from gmrl.rl.policy_gradient.agent import PolicyGradientAgent

        return PolicyGradientAgent
    if name in ("ReinforceAgent", "ActorCriticAgent"):
        from gmrl.rl.policy_gradient import contract

        return getattr(contract, name)
    raise AttributeError(name)
