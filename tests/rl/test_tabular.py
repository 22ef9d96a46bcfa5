"""Q-learning and SARSA against the DP optimum, with exact evaluation of their greedy policies.

Budgets were chosen by checking many seeds while developing (FrozenLake: 12 seeds each at 3,000
episodes all reached >= 98% of optimal, while 1,500 episodes let SARSA fall to ~82% on some
seeds; CliffWalking: 10 seeds each gave the stated paths).
"""

import gymnasium as gym
import numpy as np
import pytest

from gmrl.core.errors import ConfigError, EnvError
from gmrl.rl.dynamic_programming import policy_evaluation, value_iteration
from gmrl.rl.tabular import (
    Constant,
    Exponential,
    Linear,
    QLearningAgent,
    SarsaAgent,
    TDLearner,
    q_learning,
    sarsa,
)

GAMMA = 0.99  # the discount used both for learning and for the DP optimum on FrozenLake
CLIFF_START = 36


@pytest.mark.parametrize("learner", [q_learning, sarsa])
def test_greedy_policy_reaches_95_percent_of_optimum_on_slippery_frozenlake(learner):
    """Expected discounted return (gamma 0.99) from the start state, computed exactly."""
    env = gym.make("FrozenLake-v1", is_slippery=True)
    optimum = value_iteration(env, GAMMA).values[0]
    result = learner(
        env, episodes=3000, gamma=GAMMA, alpha=Linear(0.5, 0.01),
        epsilon=Linear(1.0, 0.0, fraction=0.8), seed=0,
    )
    achieved = policy_evaluation(env, result.policy, GAMMA)[0]
    assert achieved >= 0.95 * optimum
    assert result.episode_returns.shape == (3000,)
    # Learning shows in the curve: late episodes (greedy) win far more often than early ones.
    assert result.episode_returns[-500:].mean() > result.episode_returns[:500].mean() + 0.3


def test_cliffwalking_q_learning_finds_the_optimal_edge_path_sarsa_the_safe_one():
    """With constant epsilon 0.1 (Sutton & Barto, Example 6.6):

    - Q-learning's greedy policy walks along the cliff edge: the optimal return, -13;
    - SARSA learns the values of the exploring policy, so its greedy policy takes the safe path
      along the top row: return -17 (3 up, 11 right, 3 down);
    - while exploring, SARSA falls less often, so its online returns are higher.
    """
    env = gym.make("CliffWalking-v1")
    settings = dict(episodes=300, gamma=1.0, alpha=0.5, epsilon=0.1, seed=0)
    q_result = q_learning(env, **settings)
    s_result = sarsa(env, **settings)
    assert policy_evaluation(env, q_result.policy, 1.0)[CLIFF_START] == -13.0
    assert policy_evaluation(env, s_result.policy, 1.0)[CLIFF_START] == -17.0
    assert s_result.episode_returns[-100:].mean() > q_result.episode_returns[-100:].mean()


def test_runs_are_reproducible_and_callbacks_can_stop_training():
    env = gym.make("FrozenLake-v1", is_slippery=True)
    first = q_learning(env, episodes=50, seed=3)
    second = q_learning(env, episodes=50, seed=3)
    np.testing.assert_array_equal(first.q, second.q)
    np.testing.assert_array_equal(first.episode_returns, second.episode_returns)

    seen = []

    def stop_after_ten(stats):
        seen.append((stats.episode, stats.epsilon))
        return stats.episode < 9

    result = sarsa(env, episodes=100, epsilon=Exponential(1.0, 0.1, 0.5), seed=0,
                   callback=stop_after_ten)
    assert result.episodes == 10 and len(seen) == 10
    assert seen[1][1] == pytest.approx(0.55)


def test_schedules():
    np.testing.assert_allclose(Constant(0.3).values(3), [0.3, 0.3, 0.3])
    np.testing.assert_allclose(Linear(1.0, 0.0, fraction=0.5).values(5), [1, 0.5, 0, 0, 0])
    np.testing.assert_allclose(Exponential(1.0, 0.2, 0.5).values(3), [1.0, 0.6, 0.4])


def test_bad_input_gets_one_line_errors():
    with pytest.raises(EnvError, match="Discrete"):
        q_learning(gym.make("CartPole-v1"), episodes=1)
    with pytest.raises(ConfigError, match="epsilon"):
        sarsa(gym.make("FrozenLake-v1"), episodes=10, epsilon=Linear(1.5, 0.0))
    with pytest.raises(ConfigError, match="episodes"):
        q_learning(gym.make("FrozenLake-v1"), episodes=0)


@pytest.mark.parametrize("on_policy", [False, True])
def test_learner_state_resumes_exactly(on_policy):
    """A fresh learner given a saved state (table, history, exploration and env generators)
    finishes with the same table and history as the learner that never stopped."""
    kwargs = {"on_policy": on_policy, "episodes": 40, "seed": 4,
              "epsilon": Linear(1.0, 0.1), "alpha": 0.2}
    straight = TDLearner(gym.make("FrozenLake-v1"), **kwargs)
    for _ in range(17):
        straight.run_episode()
    saved = straight.state_dict()
    saved = {**saved, "q": saved["q"].clone()}
    while not straight.done:
        straight.run_episode()
    resumed = TDLearner(gym.make("FrozenLake-v1"), **kwargs)
    resumed.load_state_dict(saved)
    assert resumed.episode == 17
    while not resumed.done:
        resumed.run_episode()
    np.testing.assert_array_equal(resumed.q, straight.q)
    np.testing.assert_array_equal(resumed.result().episode_returns,
                                  straight.result().episode_returns)
    with pytest.raises(ValueError, match="does not fit"):
        TDLearner(gym.make("FrozenLake8x8-v1"), **kwargs).load_state_dict(saved)


@pytest.mark.parametrize(("agent_class", "learner"), [(QLearningAgent, q_learning),
                                                      (SarsaAgent, sarsa)])
def test_agent_learns_by_steps_what_the_learner_learns_by_episodes(agent_class, learner):
    """The contract's `learn` counts env steps: given as many steps as `q_learning` / `sarsa`
    took over their episodes, split mid-episode, the agent ends with the same table and history;
    past the schedule it keeps the last values and goes on recording episodes."""
    settings = {"episodes": 30, "alpha": 0.3, "epsilon": Linear(1.0, 0.1), "seed": 5}
    result = learner(gym.make("FrozenLake-v1"), **settings)
    total = int(result.episode_lengths.sum())
    agent = agent_class(gym.make("FrozenLake-v1"), **settings)
    split = int(result.episode_lengths[0]) + 1  # one step into the second episode
    agent.learn(split)
    assert agent.learner.in_episode and agent.learner.episode == 1
    agent.learn(total - split)
    assert not agent.learner.in_episode and agent.num_timesteps == total
    np.testing.assert_array_equal(agent.q, result.q)
    np.testing.assert_array_equal(agent.learner.result().episode_returns, result.episode_returns)
    agent.learn(300)
    assert agent.num_timesteps == total + 300 and agent.learner.episode > 30
    assert agent.learner.schedule_at(agent.learner.episode) == (0.3, pytest.approx(0.1))
