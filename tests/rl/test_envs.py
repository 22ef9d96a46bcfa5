"""make_env, vector envs, algorithm/space checks and evaluation: every failure is one line."""

import sys
import types

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from gmrl.core.errors import EnvError
from gmrl.rl.envs import (
    check_algorithm_supports,
    make_env,
    make_vector_env,
    supported_algorithms,
)
from gmrl.rl.rollout import PolicyFunction, evaluate_agent


class _GoodEnv(gym.Env):
    """A tiny valid env: walk right to reach the goal."""

    observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = spaces.Discrete(2)

    def __init__(self, size: int = 3) -> None:
        self.size, self.position = size, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position = 0
        return self._obs(), {}

    def step(self, action):
        self.position += 1 if int(action) == 1 else 0
        done = self.position >= self.size
        return self._obs(), float(done), done, False, {}

    def _obs(self):
        return np.array([self.position / self.size, 0.0], dtype=np.float32)


class _BadEnv(_GoodEnv):
    """Returns observations outside its declared space (check_env rejects it)."""

    def _obs(self):
        return np.array([5.0, 5.0, 5.0], dtype=np.float64)


@pytest.fixture
def user_module(monkeypatch):
    module = types.ModuleType("gmrl_test_user_envs")
    module.GoodEnv, module.BadEnv = _GoodEnv, _BadEnv
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module.__name__


def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_registered_id_and_kwargs():
    env = make_env("FrozenLake-v1", is_slippery=False)
    assert env.spec.id == "FrozenLake-v1"
    assert env.spec.kwargs["is_slippery"] is False


def test_unknown_id_suggests_close_match():
    with pytest.raises(EnvError) as exc:
        make_env("CartPol-v1")
    assert "'CartPole-v1'" in _one_line(exc)


def test_bad_kwargs_are_one_line():
    with pytest.raises(EnvError) as exc:
        make_env("CartPole-v1", wind=3)
    assert "wind" in _one_line(exc)


def test_import_path_user_env(user_module):
    env = make_env(f"{user_module}:GoodEnv", size=5)
    assert isinstance(env.unwrapped, _GoodEnv) and env.unwrapped.size == 5


def test_import_path_failures(user_module):
    with pytest.raises(EnvError) as exc:
        make_env("no_such_package_xyz.envs:Thing")
    assert "cannot import module 'no_such_package_xyz.envs'" in _one_line(exc)
    with pytest.raises(EnvError) as exc:
        make_env(f"{user_module}:GodEnv")
    assert "did you mean" in _one_line(exc) and "GoodEnv" in str(exc.value)


def test_user_env_failing_check_env(user_module):
    with pytest.raises(EnvError) as exc:
        make_env(f"{user_module}:BadEnv")
    assert "check_env" in _one_line(exc)


@pytest.mark.parametrize(
    ("algo", "env_id", "needed"),
    [
        ("dqn", "Pendulum-v1", "Discrete actions"),
        ("sac", "CartPole-v1", "Box (continuous) actions"),
        ("td3", "FrozenLake-v1", "Box (continuous) actions"),
        ("q_learning", "CartPole-v1", "Discrete observations"),
        ("value_iteration", "CartPole-v1", "Discrete observations"),
    ],
)
def test_algorithm_space_mismatch(algo, env_id, needed):
    with pytest.raises(EnvError) as exc:
        check_algorithm_supports(algo, make_env(env_id))
    message = _one_line(exc)
    assert needed in message and env_id in message and "works with" in message


def test_dp_needs_transition_model(user_module):
    env = make_env(f"{user_module}:GoodEnv")
    env.observation_space = spaces.Discrete(4)  # discrete, but no env.P
    with pytest.raises(EnvError, match=r"env\.unwrapped\.P"):
        check_algorithm_supports("value_iteration", env)


def test_supported_algorithms():
    assert set(supported_algorithms(make_env("Pendulum-v1"))) == {
        "reinforce", "actor_critic", "ppo", "a2c", "sac", "td3"
    }
    assert "value_iteration" in supported_algorithms(make_env("Taxi-v4"))


def test_vector_env_same_step_final_obs():
    envs = make_vector_env("CartPole-v1", 3)
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (3, 4)
    for _ in range(200):
        obs, _, terminated, truncated, info = envs.step(np.zeros(3, dtype=np.int64))
        done = terminated | truncated
        if done.any():  # SAME_STEP autoreset: the finished episode's last obs is in final_obs
            assert info["_final_obs"][done].all()
            assert not np.allclose(np.stack(info["final_obs"][done]), obs[done])
            break
    else:
        pytest.fail("always pushing left should end an episode within 200 steps")


def test_evaluate_policy_is_seeded_and_counts_whole_episodes():
    def left(obs):
        return np.zeros(len(obs), dtype=np.int64)

    def evaluate(seed: int) -> np.ndarray:
        return evaluate_agent(PolicyFunction(left), lambda: make_env("CartPole-v1"),
                              episodes=4, reset_seeds=range(seed, seed + 4))

    first, second = evaluate(3), evaluate(3)
    np.testing.assert_array_equal(first, second)
    assert first.shape == (4,) and np.all((first >= 5) & (first < 50))
    assert not np.array_equal(evaluate(4), first)  # other start states
    with pytest.raises(ValueError, match="3 reset seeds for 4 episodes"):
        evaluate_agent(PolicyFunction(left), lambda: make_env("CartPole-v1"), episodes=4,
                       reset_seeds=[0, 1, 2])


def test_deepmind_control_tasks_come_flat_and_take_gmrl_seeds() -> None:
    """A dm_control task through shimmy: its dict of state vectors flattened into one Box
    (what every gmrl agent reads), reset with the seeds gmrl derives."""
    pytest.importorskip("shimmy")
    from gmrl.rl.rollout import episode_seeds

    env = make_env("dm_control/cartpole-swingup-v0")
    assert isinstance(env.observation_space, spaces.Box)
    assert env.observation_space.shape == (5,)  # 3 positions + 2 velocities
    obs, _ = env.reset(seed=episode_seeds(2**40, 1)[0])
    assert env.observation_space.contains(obs.astype(env.observation_space.dtype))
    _, reward, terminated, _, _ = env.step(env.action_space.sample())
    assert 0.0 <= reward <= 1.0 and not terminated


def test_a_deepmind_control_task_without_shimmy_is_one_line(monkeypatch) -> None:
    from gmrl.rl import envs

    monkeypatch.setitem(sys.modules, "shimmy", None)  # import shimmy raises ImportError
    with pytest.raises(EnvError, match=r"needs shimmy and dm-control: pip install"):
        envs._register_dm_control("dm_control/cheetah-run-v0")
