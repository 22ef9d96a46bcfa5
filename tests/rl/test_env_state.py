"""Rebuilding a Gymnasium env mid-episode by replay: same state, same future, no pickle."""

import gymnasium as gym
import numpy as np
import pytest

from gmrl.core.checkpoint import flatten_state, unflatten_state
from gmrl.rl.env_state import (
    EpisodeRecorder,
    env_rng_state,
    same_observation,
    set_env_rng_state,
    set_space_rng_state,
    space_rng_state,
)


def _through_a_checkpoint(state):
    """What a checkpoint file gives back (tensors plus a JSON skeleton)."""
    import json

    tensors, skeleton = flatten_state(state)
    return unflatten_state(tensors, json.loads(json.dumps(skeleton)))


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1", "FrozenLake-v1"])
@pytest.mark.parametrize("seeded", [True, False])
def test_replay_rebuilds_the_env_and_its_future(env_id, seeded):
    env = EpisodeRecorder(gym.make(env_id))
    env.reset(seed=7)
    env.action_space.seed(1)
    if not seeded:  # a second, unseeded episode: its start comes from the env's generator
        for _ in range(500):
            if any(env.step(env.action_space.sample())[2:4]):
                break
        env.reset()
    for _ in range(5):
        obs, *_ = env.step(env.action_space.sample())
    saved = _through_a_checkpoint(env.state())
    copy = EpisodeRecorder(gym.make(env_id))
    assert same_observation(copy.restore(saved), obs)
    actions = [env.action_space.sample() for _ in range(30)]
    for action in actions:  # the same future, resets of new episodes included
        a, b = env.step(action), copy.step(action)
        assert same_observation(a[0], b[0]) and a[1:4] == b[1:4]
        if a[2] or a[3]:
            assert same_observation(env.reset()[0], copy.reset()[0])


def test_generator_states_round_trip():
    env, other = gym.make("CartPole-v1"), gym.make("CartPole-v1")
    env.reset(seed=3)
    env.action_space.seed(5)
    set_env_rng_state(other, _through_a_checkpoint(env_rng_state(env)))
    saved = _through_a_checkpoint(space_rng_state(env.action_space))
    set_space_rng_state(other.action_space, saved)
    assert env.unwrapped.np_random.random() == other.unwrapped.np_random.random()
    assert [env.action_space.sample() for _ in range(5)] == [
        other.action_space.sample() for _ in range(5)
    ]
    assert not same_observation(np.zeros(2), np.ones(2))


def test_replay_rebuilds_a_deepmind_control_env_after_an_unseeded_reset():
    """dm_control tasks (through shimmy) draw from a legacy RandomState: saved and restored
    too, so SB3's unseeded auto-resets can be replayed."""
    pytest.importorskip("shimmy")
    from gmrl.rl.envs import make_env

    def make():
        return EpisodeRecorder(make_env("dm_control/cartpole-swingup-v0", max_episode_steps=10))

    env = make()
    env.reset(seed=7)
    env.action_space.seed(1)
    for _ in range(10):
        env.step(env.action_space.sample())
    env.reset()  # unseeded: its start comes from the task's RandomState
    for _ in range(3):
        obs, *_ = env.step(env.action_space.sample())
    saved = _through_a_checkpoint(env.state())
    assert saved["rng"]["legacy"]
    copy = make()
    assert same_observation(copy.restore(saved), obs)
    for _ in range(12):  # the same future, the next unseeded reset included
        action = env.action_space.sample()
        a, b = env.step(action), copy.step(action)
        assert same_observation(a[0], b[0]) and a[1:4] == b[1:4]
        if a[2] or a[3]:
            assert same_observation(env.reset()[0], copy.reset()[0])
