"""Closed-form reward and termination functions of classic-control tasks, in torch, batched.

Passing these to a world model instead of learning them is the PETS convention (Chua et al.
2018; also mbrl-lib, MBPO's termination functions): the dynamics are learned from data, while
the task's reward and termination, which the designer wrote down, are used as they are. It is a
user's choice: leave them out (`reward="learned"`) and the ensemble learns them too.

Every function takes `(obs, action, next_obs)` as batched tensors and returns a `(B,)` tensor.
The formulas mirror Gymnasium's `CartPole-v1` and `Pendulum-v1` sources.
"""

import math

import torch

from gmrl.worldmodel.base import RewardFn, TerminationFn

CARTPOLE_X_LIMIT = 2.4
CARTPOLE_THETA_LIMIT = 12 * 2 * math.pi / 360


def cartpole_termination(
    obs: torch.Tensor, action: torch.Tensor, next_obs: torch.Tensor
) -> torch.Tensor:
    """CartPole-v1 ends when the cart leaves |x| <= 2.4 or the pole tilts past 12 degrees."""
    x, theta = next_obs[..., 0], next_obs[..., 2]
    return (x.abs() > CARTPOLE_X_LIMIT) | (theta.abs() > CARTPOLE_THETA_LIMIT)


def cartpole_reward(
    obs: torch.Tensor, action: torch.Tensor, next_obs: torch.Tensor
) -> torch.Tensor:
    """CartPole-v1 pays +1 for every step taken, the terminating one included."""
    return torch.ones(obs.shape[0], device=obs.device)


def cartpole_centered_reward(
    obs: torch.Tensor, action: torch.Tensor, next_obs: torch.Tensor
) -> torch.Tensor:
    """A shaped planning objective for CartPole: +1 per step, less up to 0.5 for being far from
    the centre and upright (quadratic in x / 2.4 and theta / 12 degrees).

    The env's own reward (+1 per step) only tells a short-horizon planner to survive the next
    `horizon` steps; it is blind to a slow drift towards |x| = 2.4 that only ends the episode
    hundreds of steps later. This proxy encodes "stay in the middle, keep the pole up", which
    is prior knowledge about the task: a user's choice (`reward=cartpole_centered`), reported
    as such wherever it is used. Returns are still measured with the env's reward.
    """
    x = next_obs[..., 0] / CARTPOLE_X_LIMIT
    theta = next_obs[..., 2] / CARTPOLE_THETA_LIMIT
    return 1.0 - 0.25 * (x**2 + theta**2).clamp(max=2.0)


def pendulum_reward(
    obs: torch.Tensor, action: torch.Tensor, next_obs: torch.Tensor
) -> torch.Tensor:
    """Pendulum-v1: -(theta^2 + 0.1 thetadot^2 + 0.001 u^2), theta from the *current* state.

    The observation is (cos theta, sin theta, thetadot); the torque is clipped to [-2, 2] as the
    environment does before computing the cost.
    """
    theta = torch.atan2(obs[..., 1], obs[..., 0])
    torque = action.reshape(obs.shape[0], -1)[..., 0].clamp(-2.0, 2.0)
    return -(theta**2 + 0.1 * obs[..., 2] ** 2 + 0.001 * torque**2)


def never_terminates(
    obs: torch.Tensor, action: torch.Tensor, next_obs: torch.Tensor
) -> torch.Tensor:
    """For tasks that only end by time limit (Pendulum, MountainCarContinuous...)."""
    return torch.zeros(obs.shape[0], dtype=torch.bool, device=obs.device)


KNOWN_REWARDS: dict[str, RewardFn] = {
    "CartPole-v1": cartpole_reward,
    "Pendulum-v1": pendulum_reward,
}
SHAPED_REWARDS: dict[str, RewardFn] = {
    "CartPole-v1": cartpole_centered_reward,
}
KNOWN_TERMINATIONS: dict[str, TerminationFn] = {
    "CartPole-v1": cartpole_termination,
    "Pendulum-v1": never_terminates,
}
