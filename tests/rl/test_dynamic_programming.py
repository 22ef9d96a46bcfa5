"""Value iteration, policy iteration and exact policy evaluation on toy-text models."""

import gymnasium as gym
import numpy as np
import pytest

from gmrl.core.errors import ConfigError, EnvError
from gmrl.rl.dynamic_programming import (
    policy_evaluation,
    policy_iteration,
    tabular_model,
    value_iteration,
)

GAMMA = 0.99


@pytest.mark.parametrize("slippery", [True, False])
def test_value_iteration_matches_policy_iteration_on_frozenlake(slippery):
    env = gym.make("FrozenLake-v1", is_slippery=slippery)
    vi = value_iteration(env, GAMMA)
    pi = policy_iteration(env, GAMMA)
    assert vi.converged and pi.converged
    np.testing.assert_allclose(vi.values, pi.values, atol=1e-6)
    # Both greedy policies are optimal: evaluating either one gives the optimal values.
    np.testing.assert_allclose(policy_evaluation(env, vi.policy, GAMMA), pi.values, atol=1e-6)
    assert vi.iterations >= 1 and pi.iterations >= 1


def test_deterministic_frozenlake_optimum_is_the_shortest_path():
    # Six moves to the goal, reward 1 on the last: V(start) = gamma ** 5.
    vi = value_iteration(gym.make("FrozenLake-v1", is_slippery=False), GAMMA)
    assert vi.values[0] == pytest.approx(GAMMA**5, abs=1e-9)


def test_cliffwalking_undiscounted_optimum_is_minus_13():
    env = gym.make("CliffWalking-v1")
    vi = value_iteration(env, 1.0)
    start = 36
    assert vi.converged
    assert vi.values[start] == pytest.approx(-13.0)
    assert policy_evaluation(env, vi.policy, 1.0)[start] == pytest.approx(-13.0)


def test_policy_evaluation_matches_monte_carlo():
    """The exact value of a uniformly random policy agrees with the average of sampled returns."""
    env = gym.make("FrozenLake-v1", is_slippery=True)
    uniform = np.full((16, 4), 0.25)
    exact = policy_evaluation(env, uniform, 1.0)[0]
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    wins = []
    for _ in range(4000):
        env.reset()
        done, reward = False, 0.0
        while not done:
            _, reward, terminated, truncated, _ = env.step(int(rng.integers(4)))
            done = terminated or truncated
        wins.append(reward)
    # The 100-step time limit barely matters for this policy; 4,000 episodes give sd ~ 0.002.
    assert np.mean(wins) == pytest.approx(exact, abs=0.01)


def test_policy_evaluation_marks_never_terminating_states_nan():
    env = gym.make("CliffWalking-v1")
    always_left = np.full(48, 3)  # from the start, walks into the wall forever
    values = policy_evaluation(env, always_left, 1.0)
    assert np.isnan(values[36])
    assert np.isfinite(policy_evaluation(env, always_left, 0.9)).all()


def test_model_arrays_keep_terminating_mass_out_of_transitions():
    model = tabular_model(gym.make("FrozenLake-v1", is_slippery=True))
    assert model.transitions.shape == (16, 4, 16) and model.rewards.shape == (16, 4)
    # From state 14 (left of the goal) every action but LEFT slips into the goal (reward 1,
    # terminated) with probability 1/3; that mass is the reward, not a transition.
    np.testing.assert_allclose(model.transitions[14].sum(axis=1), [1, 2 / 3, 2 / 3, 2 / 3])
    np.testing.assert_allclose(model.rewards[14], [0, 1 / 3, 1 / 3, 1 / 3])


def test_bad_input_gets_one_line_errors():
    with pytest.raises(EnvError, match="no transition table"):
        value_iteration(gym.make("CartPole-v1"))
    with pytest.raises(ConfigError, match="gamma"):
        policy_iteration(gym.make("FrozenLake-v1"), 1.0)
    with pytest.raises(ConfigError, match="shape"):
        policy_evaluation(gym.make("FrozenLake-v1"), np.zeros(3, dtype=int))
