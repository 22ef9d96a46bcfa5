"""The model contract that tree search plans with, and the true CartPole dynamics as one.

A `SearchModel` steps a *batch* of states functionally: no hidden state, no reset, so a planner
can branch from any state as often as it likes and push many states through one call. A copy of
a real simulator (`CartPoleModel`) and a learned world model wrapped for planning both fit it,
so `gmrl.rl.mcts` works unchanged over either.

States are numpy arrays `(B, ...)` whose meaning is the model's business (for CartPole, the
physical state `(x, x_dot, theta, theta_dot)` as float64); actions are integer indices `(B,)`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

from gmrl.core.errors import EnvError


@runtime_checkable
class SearchModel(Protocol):
    """A batched, side-effect-free model of an environment with discrete actions."""

    n_actions: int

    def step(
        self, states: np.ndarray, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`(next_states (B, ...), rewards (B,) float, terminated (B,) bool)` for each pair.

        Must not modify `states`. A stochastic model samples one outcome per row.
        """
        ...


class CartPoleModel:
    """CartPole-v1's equations of motion, vectorised over a batch of states.

    A numpy re-implementation of `CartPoleEnv.step` (same constants, same order of floating-point
    operations, both Euler and semi-implicit integrators), rather than setting `env.state` on
    copies of the env: one call steps thousands of states, and it is exact, which
    tests/rl/test_mcts.py checks against Gymnasium step by step. The reward is 1 for every step,
    including the one that ends the episode, as in CartPole-v1 (the Sutton-Barto reward variant
    is not modelled). States are float64 `(x, x_dot, theta, theta_dot)`; the env keeps its state
    in float64 (`env.unwrapped.state`) and returns it rounded to float32 as the observation.
    """

    n_actions = 2

    def __init__(self, env: gym.Env | None = None) -> None:
        """Copy the physical constants from `env` (a CartPole env), or use CartPole-v1's."""
        source = CartPoleEnv() if env is None else env.unwrapped
        if not isinstance(source, CartPoleEnv):
            raise EnvError(f"CartPoleModel needs a CartPole env, got {type(source).__name__}")
        if getattr(source, "_sutton_barto_reward", False):
            raise EnvError("CartPoleModel models the default reward, not sutton_barto_reward=True")
        self.gravity = source.gravity
        self.masspole = source.masspole
        self.total_mass = source.total_mass
        self.length = source.length
        self.polemass_length = source.polemass_length
        self.force_mag = source.force_mag
        self.tau = source.tau
        self.euler = source.kinematics_integrator == "euler"
        self.x_threshold = source.x_threshold
        self.theta_threshold = source.theta_threshold_radians

    def step(
        self, states: np.ndarray, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Advance each `(x, x_dot, theta, theta_dot)` row by one step of length `tau`."""
        states = np.asarray(states, dtype=np.float64)
        x, x_dot, theta, theta_dot = states[:, 0], states[:, 1], states[:, 2], states[:, 3]
        force = np.where(np.asarray(actions) == 1, self.force_mag, -self.force_mag)
        costheta, sintheta = np.cos(theta), np.sin(theta)
        temp = (force + self.polemass_length * np.square(theta_dot) * sintheta) / self.total_mass
        thetaacc = (self.gravity * sintheta - costheta * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * np.square(costheta) / self.total_mass)
        )
        xacc = temp - self.polemass_length * thetaacc * costheta / self.total_mass
        next_states = np.empty_like(states)
        new_x, new_x_dot, new_theta, new_theta_dot = next_states.T  # views: written in place
        if self.euler:
            np.add(x, self.tau * x_dot, out=new_x)
            np.add(x_dot, self.tau * xacc, out=new_x_dot)
            np.add(theta, self.tau * theta_dot, out=new_theta)
            np.add(theta_dot, self.tau * thetaacc, out=new_theta_dot)
        else:  # semi-implicit Euler, CartPole-v1's default
            np.add(x_dot, self.tau * xacc, out=new_x_dot)
            np.add(x, self.tau * new_x_dot, out=new_x)
            np.add(theta_dot, self.tau * thetaacc, out=new_theta_dot)
            np.add(theta, self.tau * new_theta_dot, out=new_theta)
        # |x| > limit is the env's (x < -limit or x > limit), in half the array operations.
        terminated = (np.abs(new_x) > self.x_threshold) | (
            np.abs(new_theta) > self.theta_threshold
        )
        return next_states, np.ones(len(next_states)), terminated


def search_model_for(env: gym.Env) -> SearchModel:
    """The true-dynamics `SearchModel` gmrl has for `env`, or a one-line `EnvError`.

    Only CartPole has one so far; other envs need a learned world model wrapped for planning.
    """
    if isinstance(env.unwrapped, CartPoleEnv):
        return CartPoleModel(env)
    name = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
    raise EnvError(
        f"gmrl has no model of {name} for MCTS to plan with (only CartPole: "
        "gmrl.rl.search_model.CartPoleModel); use CartPole-v1, a learned world model, "
        "or another algorithm"
    )
