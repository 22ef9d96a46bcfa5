"""PixelObservation: a real Gymnasium env of stacked, shrunk CartPole frames."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.classic_control.cartpole import CartPoleEnv
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


class _NanRewardCartPole(CartPoleEnv):
    """CartPole that returns a NaN reward on its fourth step (a user's env gone wrong)."""

    def step(self, action: int):  # type: ignore[no-untyped-def]
        obs, reward, terminated, truncated, info = super().step(action)
        self.steps_taken = getattr(self, "steps_taken", 0) + 1
        return obs, (float("nan") if self.steps_taken == 4 else reward), terminated, truncated, info


def test_the_state_env_is_guarded_at_the_step() -> None:
    """A NaN reward from the env behind the frames is one EnvError naming the env and step."""
    env_id = "NanRewardCartPolePixels-v0"
    if env_id not in gym.envs.registry:
        gym.register(env_id, entry_point=_NanRewardCartPole, max_episode_steps=50)
    env = make_pixel_env(env_id, size=(16, 32))
    env.reset(seed=0)
    for _ in range(3):
        env.step(0)
    with pytest.raises(EnvError, match=rf"{env_id}.*step 4 of episode 1.*reward = nan"):
        env.step(0)
