"""PixelObservation: a real Gymnasium env of stacked, shrunk CartPole frames."""

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from gmrl.core.errors import EnvError
from gmrl.worldmodel.pixels import make_pixel_env


def test_frame_wrapper_passes_check_env() -> None:
    env = make_pixel_env("CartPole-v1", size=(32, 64), stack=2)
    check_env(env, skip_render_check=True)
    assert env.observation_space.shape == (2, 32, 64)
    assert env.observation_space.dtype == np.uint8


def test_frames_stack_and_move() -> None:
    env = make_pixel_env("CartPole-v1", size=(16, 32), stack=2)
    first, _ = env.reset(seed=0)
    assert np.array_equal(first[0], first[1])  # reset repeats the first frame
    obs = first
    for _ in range(5):
        previous = obs
        obs, *_ = env.step(1)
        assert np.array_equal(obs[0], previous[1])  # the stack shifts by one frame
    assert not np.array_equal(obs[1], first[1])  # pushing right moves the picture
    assert obs.min() < 100 < 200 < obs.max()  # dark cart on a light background


def test_same_seed_same_frames() -> None:
    a, _ = make_pixel_env("CartPole-v1").reset(seed=3)
    b, _ = make_pixel_env("CartPole-v1").reset(seed=3)
    assert np.array_equal(a, b)


def test_bad_settings_are_env_errors() -> None:
    with pytest.raises(EnvError, match="CartPol-v1"):
        make_pixel_env("CartPol-v1")
    with pytest.raises(EnvError, match="resize"):
        make_pixel_env("CartPole-v1", resize="bicubic")
    with pytest.raises(EnvError, match="action_repeat"):
        make_pixel_env("CartPole-v1", action_repeat=0)


def test_action_repeat_counts_env_steps_and_sums_rewards() -> None:
    env = make_pixel_env("CartPole-v1", size=(16, 32), action_repeat=3)
    check_env(env, skip_render_check=True)
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step(0)
    assert (info["env_steps"], reward, terminated) == (3, 3.0, False)
    steps, done = 3, False
    while not done:  # pushing one way ends the episode; the last repeat may be cut short
        _, reward, terminated, truncated, info = env.step(0)
        steps += info["env_steps"]
        done = terminated or truncated
    assert info["env_steps"] == reward and 1 <= info["env_steps"] <= 3
    assert 8 <= steps < 60  # a real CartPole episode under a constant push
