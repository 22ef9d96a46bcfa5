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
