"""`SyntheticAgent`: the synthetic-experience agent on the agent contract (make_agent, learn,
predict, save, load), its generated rows really used, and its settings checked in one line."""

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import gmrl
from gmrl.core.errors import ConfigError
from gmrl.synthetic import SyntheticReplayBuffer
from gmrl.synthetic.agent import SyntheticAgent

TINY = {
    "agent": "synthetic", "algo": "sac", "utd": 2, "device": "cpu",
    "params": {"learning_starts": 40, "batch_size": 32, "buffer_size": 1000,
               "policy_kwargs": {"net_arch": [16]}},
    "synthetic": {"min_real": 60, "refit_every": 60, "pool_size": 256, "fidelity_samples": 32,
                  "generator": {"fit_steps": 10, "first_fit_steps": 20, "batch_size": 32,
                                "params": {"hidden": 16, "layers": 1, "timesteps": 8}}},
}


def test_learns_on_generated_rows_and_reloads_acting_the_same(tmp_path: Path) -> None:
    agent = gmrl.make_agent({**TINY, "seed": 3}, gym.make("Pendulum-v1"))
    assert isinstance(agent, SyntheticAgent) and agent.algo == "sac"
    agent.learn(200)
    buffer = agent.model.replay_buffer
    assert isinstance(buffer, SyntheticReplayBuffer)
    summary = buffer.summary()
    assert summary["synthetic_refits"] >= 2  # at 60, 120, 180 real steps
    assert summary["synthetic_rows_sampled"] > 0  # the gradient steps drew generated rows
    assert agent.model.gradient_steps == 2 and agent.num_timesteps == 200

    obs = np.stack([gym.make("Pendulum-v1").reset(seed=s)[0] for s in range(4)])
    actions, _ = agent.predict(obs, deterministic=True)
    agent.save(tmp_path / "agent")
    loaded = gmrl.load(tmp_path / "agent")
    assert isinstance(loaded, SyntheticAgent) and loaded.num_timesteps == 200
    np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], actions)
    assert isinstance(loaded.model.replay_buffer, SyntheticReplayBuffer)
    loaded.learn(20)  # a loaded agent learns on (from an empty buffer)


def test_dqn_takes_the_synthetic_buffer_on_discrete_actions() -> None:
    config = {**TINY, "algo": "dqn", "params": {"learning_starts": 40, "batch_size": 32,
                                                 "buffer_size": 1000,
                                                 "target_update_interval": 50}}
    agent = gmrl.make_agent(config, gym.make("CartPole-v1")).learn(130)
    assert agent.model.replay_buffer.summary()["synthetic_refits"] >= 1


@pytest.mark.parametrize(("change", "message"), [
    ({"algo": "ppo"}, "needs an off-policy algorithm with a replay buffer (sac, td3, dqn), "
                      "not 'ppo'"),
    ({"params": {"gradient_steps": 4}}, "params.gradient_steps is set by the synthetic agent"),
    ({"utd": 0}, "utd must be a whole number of gradient steps >= 1"),
    ({"synthetic": {"ratio": 2.0}}, "synthetic"),
])
def test_bad_settings_are_one_line_config_errors(change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as caught:
        gmrl.make_agent({**TINY, **change}, gym.make("Pendulum-v1"))
    text = str(caught.value)
    assert message in text and "\n" not in text
