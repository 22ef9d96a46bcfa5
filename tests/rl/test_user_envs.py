"""Envs as users write them (issue 24, item 2): a module in the current directory found without
PYTHONPATH, `module:Class` and `module:factory`, a `gymnasium.Wrapper` that does not inherit
`RecordConstructorArgs`, and check_env's warnings shown rather than hidden."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gmrl.cli import app
from gmrl.core.errors import EnvError
from gmrl.rl.envs import make_env

REPO = Path(__file__).resolve().parents[2]
MODULES = ("cwd_user_envs", "cwd_user_broken")

USER_ENVS = '''
import gymnasium as gym
import numpy as np
from gymnasium import spaces


class Corridor(gym.Env):
    """Walk right to the end of a short corridor (bounded observations: check_env is quiet)."""

    def __init__(self, length=4):
        self.length = length
        self.observation_space = spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        self.position = 0

    def _obs(self):
        return np.array([self.position / self.length], dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position = 0
        return self._obs(), {}

    def step(self, action):
        self.position = max(0, self.position + (1 if action == 1 else -1))
        done = self.position >= self.length
        return self._obs(), float(done), done, False, {}


class Unbounded(Corridor):
    """The same env with an unbounded float observation space: check_env warns about it."""

    def __init__(self):
        super().__init__()
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(1,), dtype=np.float32)


class Wrapped(gym.Wrapper):
    """A plain wrapper (no RecordConstructorArgs) whose constructor takes no arguments."""

    def __init__(self):
        super().__init__(gym.wrappers.TimeLimit(Corridor(), max_episode_steps=20))


def factory(length=4):
    """A factory returning a wrapped env, as gymnasium.make would."""
    return gym.wrappers.TimeLimit(Corridor(length), max_episode_steps=20)
'''

TINY_RL = """recipe: rl
algo: reinforce
env: {env}
total_steps: 64
eval_every: 64
eval_episodes: 1
seed: 0
params: {{num_envs: 2}}
"""


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder holding the user's env module, as the working directory, not on sys.path."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "cwd_user_envs.py").write_text(USER_ENVS)
    (folder / "cwd_user_broken.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.chdir(folder)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".", str(folder))])
    for name in MODULES:
        sys.modules.pop(name, None)
    yield folder
    for name in MODULES:
        sys.modules.pop(name, None)


@pytest.mark.parametrize("target", ["Corridor", "Wrapped", "factory"])
def test_a_module_in_the_working_directory_resolves_without_pythonpath(
    user_dir: Path, target: str
) -> None:
    env = make_env(f"cwd_user_envs:{target}")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (1,)
    assert str(user_dir) == sys.path[-1]  # appended: never shadows an installed package


def test_a_missing_import_inside_the_users_module_is_named(user_dir: Path) -> None:
    with pytest.raises(EnvError, match="No module named 'no_such_dependency_xyz'"):
        make_env("cwd_user_broken:Env")


def test_a_module_nowhere_is_still_one_line(user_dir: Path) -> None:
    with pytest.raises(EnvError, match="cannot import module 'no_such_user_module'"):
        make_env("no_such_user_module:Env")


@pytest.mark.parametrize("target", ["Wrapped", "factory"])
def test_gmrl_run_trains_on_a_wrapper_or_a_factory(user_dir: Path, target: str) -> None:
    (user_dir / "rl.yaml").write_text(TINY_RL.format(env=f"cwd_user_envs:{target}"))
    result = CliRunner().invoke(app, ["run", "rl.yaml", "--runs", "runs", "-q"])
    assert result.exit_code == 0, result.output
    (run,) = (user_dir / "runs").iterdir()
    assert (run / "summary.json").is_file()
    assert "warning" not in result.stderr  # bounded spaces: nothing to warn about


def test_check_env_warnings_are_shown(user_dir: Path) -> None:
    (user_dir / "rl.yaml").write_text(TINY_RL.format(env="cwd_user_envs:Unbounded"))
    result = CliRunner().invoke(app, ["run", "rl.yaml", "--runs", "runs", "--check"])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert any(line.startswith("warning: env 'cwd_user_envs:Unbounded' (gymnasium check_env): ")
               and "infinity" in line for line in lines), result.stderr
    assert not any("\x1b[" in line for line in lines)


def test_the_installed_gmrl_command_finds_an_env_in_the_working_directory(
    user_dir: Path,
) -> None:
    """The real console script (whose sys.path holds its own folder, not the working one)."""
    (user_dir / "rl.yaml").write_text(TINY_RL.format(env="cwd_user_envs:factory"))
    script = Path(sys.executable).parent / "gmrl"
    if not script.is_file():
        pytest.skip("no gmrl console script beside this Python")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(script), "run", "rl.yaml", "--check"], cwd=user_dir, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "config OK" in done.stdout
