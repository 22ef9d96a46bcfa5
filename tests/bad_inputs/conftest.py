"""A user's project folder, as the working directory, holding a faulty env module (`faulty`)."""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

FAULTY = '''
import gymnasium as gym
import numpy as np
from gymnasium import spaces


class Flaky(gym.Env):
    """A corridor that goes wrong at its `fail_at`-th step (counted over the env's life): a NaN
    observation, an infinite reward, an observation of the wrong shape, or an exception."""

    def __init__(self, fail_at=10**9, how="nan", continuous=False):
        self.observation_space = spaces.Box(-10.0, 10.0, shape=(2,), dtype=np.float32)
        self.action_space = (spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32) if continuous
                             else spaces.Discrete(2))
        self.fail_at, self.how, self.t, self.pos = fail_at, how, 0, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = 0
        return np.zeros(2, dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        move = float(np.asarray(action).reshape(-1)[0]) if isinstance(
            self.action_space, spaces.Box) else (1.0 if action == 1 else -1.0)
        self.pos += 1 if move > 0 else -1
        obs = np.array([self.pos / 10, 0.0], dtype=np.float32)
        reward = 1.0
        if self.t == self.fail_at:
            if self.how == "nan":
                obs[1] = np.nan
            elif self.how == "reward":
                reward = float("inf")
            elif self.how == "shape":
                obs = np.zeros(3, dtype=np.float32)
            elif self.how == "bounds":
                obs[0] = 50.0
            else:
                raise RuntimeError("the simulator lost its connection")
        return obs, reward, abs(self.pos) >= 4, False, {}
'''


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty folder with `faulty.py`, as the working directory (not on sys.path)."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "faulty.py").write_text(FAULTY)
    monkeypatch.chdir(folder)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".", str(folder))])
    sys.modules.pop("faulty", None)
    yield folder
    sys.modules.pop("faulty", None)
