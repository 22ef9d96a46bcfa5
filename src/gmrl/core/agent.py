"""The agent contract every gmrl agent honours, and its one saved-model format.

Modelled on Stable-Baselines3's `BaseAlgorithm`, kept small:

```python
agent = SomeAgent(env, config, seed=0)
agent.learn(total_timesteps=5_000)                     # -> agent, so calls chain
action, state = agent.predict(obs, deterministic=True)  # SB3's signature: evaluate_policy works
agent.save("runs/my_agent")                             # a directory (see below)
agent = SomeAgent.load("runs/my_agent", env=env)        # checks every file's sha256 first
```

A saved agent is a directory holding `config.json` (the agent's settings, plain JSON),
`weights.safetensors` (every tensor) and `manifest.json` (format version, the agent's registered
name, gmrl's version, and the sha256 of the two other files). Loading verifies the manifest before
reading anything else, so a truncated, edited or bit-flipped file is refused with one line, and
nothing is ever unpickled: loading a file cannot run code.
"""

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch

from gmrl.core.checkpoint import (
    atomic_write_text,
    file_sha256,
    load_tensors,
    save_tensors,
    verify_sha256,
)
from gmrl.core.errors import CheckpointError

FORMAT = "gmrl-agent"
FORMAT_VERSION = 1
MANIFEST, CONFIG_FILE, WEIGHTS_FILE = "manifest.json", "config.json", "weights.safetensors"

# called after every real env step with the agent; returning False stops `learn` early
Callback = Callable[["Agent"], bool | None]
AgentT = TypeVar("AgentT", bound="Agent")


class Agent(ABC):
    """What every gmrl agent offers: `learn`, `predict`, `save` and `load`.

    Subclasses set `name` (the registered name written in the manifest) and implement `learn`,
    `predict`, `_config_json` / `_tensors` (what `save` writes) and `_from_saved` (what `load`
    rebuilds from them).
    """

    name: ClassVar[str]
    num_timesteps: int = 0

    @abstractmethod
    def learn(self: AgentT, total_timesteps: int, callback: Callback | None = None) -> AgentT:
        """Take `total_timesteps` more real env steps, learning as it goes; returns self."""

    @abstractmethod
    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """The action for `observation` (one, or a batch from a vector env) and the next state."""

    @abstractmethod
    def _config_json(self) -> dict[str, Any]:
        """Everything `_from_saved` needs besides tensors, as plain JSON values."""

    @abstractmethod
    def _tensors(self) -> dict[str, torch.Tensor]:
        """Every tensor the saved agent needs to act (flat names)."""

    @classmethod
    @abstractmethod
    def _from_saved(
        cls: type[AgentT], config: dict[str, Any], tensors: dict[str, torch.Tensor], env: Any
    ) -> AgentT:
        """Rebuild an agent from `_config_json()` and `_tensors()` (and an env to act in)."""

    def save(self, path: str | Path) -> Path:
        """Write the agent to the directory `path` (created; files replaced atomically)."""
        return save_agent_files(path, self.name, self._config_json(), self._tensors())

    @classmethod
    def load(cls: type[AgentT], path: str | Path, env: Any = None) -> AgentT:
        """Load an agent saved by `save`; a bad, foreign or tampered path is a `CheckpointError`."""
        name, config, tensors = read_agent_files(path)
        if name != cls.name:
            raise CheckpointError(
                f"'{path}' holds a '{name}' agent, not '{cls.name}': load it with "
                f"gmrl.load('{path}') or the class that saved it"
            )
        return cls._from_saved(config, tensors, env)


def _gmrl_version() -> str:
    """gmrl's installed version (read from package metadata: core imports nothing above it)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gmrl")
    except PackageNotFoundError:
        return "unknown"


def save_agent_files(
    path: str | Path, name: str, config: dict[str, Any], tensors: dict[str, torch.Tensor]
) -> Path:
    """Write config JSON + safetensors + a manifest with their sha256 (the manifest last)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CheckpointError(f"cannot save an agent to '{path}': it is a file; name a directory")
    path.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path / CONFIG_FILE, json.dumps(config, indent=2, sort_keys=True))
    save_tensors(path / WEIGHTS_FILE, tensors, {"agent": name})
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "agent": name,
        "gmrl_version": _gmrl_version(),
        "sha256": {file: file_sha256(path / file) for file in (CONFIG_FILE, WEIGHTS_FILE)},
    }
    atomic_write_text(path / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
    return path


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of a saved agent, checked for format; one-line errors otherwise."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"saved agent '{path}' does not exist: check the path")
    if not path.is_dir() or not (path / MANIFEST).is_file():
        raise CheckpointError(
            f"'{path}' is not a saved gmrl agent (no {MANIFEST}): give the directory that "
            "agent.save() wrote"
        )
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(
            f"'{path / MANIFEST}' is not valid JSON: the save is damaged"
        ) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CheckpointError(f"'{path / MANIFEST}' is not a gmrl agent manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"'{path}' has agent format version {manifest.get('format_version')}; this gmrl "
            f"reads version {FORMAT_VERSION}: save it again with a matching gmrl"
        )
    return manifest


def read_agent_files(path: str | Path) -> tuple[str, dict[str, Any], dict[str, torch.Tensor]]:
    """(registered name, config, tensors) of a saved agent, after checking every checksum."""
    path = Path(path)
    manifest = read_manifest(path)
    for file in (CONFIG_FILE, WEIGHTS_FILE):
        expected = manifest.get("sha256", {}).get(file)
        if not (path / file).is_file():
            raise CheckpointError(f"saved agent '{path}' lacks {file}: the save is incomplete")
        verify_sha256(path / file, expected, path / MANIFEST, "save the agent again")
    try:
        config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    except ValueError as exc:  # checksummed, so only a bug in save could get here
        raise CheckpointError(f"'{path / CONFIG_FILE}' is not valid JSON") from exc
    tensors, _ = load_tensors(path / WEIGHTS_FILE)
    return str(manifest["agent"]), config, tensors
