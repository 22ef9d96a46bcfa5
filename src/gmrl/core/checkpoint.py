"""Safetensors checkpoints: atomic writes, nested state, one-line errors on bad files.

A checkpoint is one `.safetensors` file. Tensors live in the file's tensor table; everything else
(hyper-parameters, step counters, the shape of nested optimizer state) is JSON in its metadata
header under the key `"gmrl"`. Nothing is ever unpickled, so loading a file cannot run code.
"""

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from gmrl.core.errors import CheckpointError

_META_KEY = "gmrl"


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes, hex (what manifests record and loads verify)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str | None, manifest: Path, fix: str) -> None:
    """Refuse `path` in one `CheckpointError` line when its sha256 is not `expected`.

    `manifest` is the file that recorded it, `fix` what the user can do. A flipped bit inside a
    safetensors file's tensor data reads fine, so only the checksum catches it.
    """
    if not path.is_file():
        raise CheckpointError(f"'{path}' listed in '{manifest}' is missing: {fix}")
    if file_sha256(path) != expected:
        raise CheckpointError(
            f"'{path}' does not match its sha256 in '{manifest}': the file was changed or "
            f"damaged after saving; {fix}"
        )


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` via a temp file and a rename, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Text version of `atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


def save_tensors(
    path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, Any] | None = None
) -> Path:
    """Atomically save a flat dict of tensors plus JSON-serialisable metadata."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    bad = [name for name, t in tensors.items() if not isinstance(t, torch.Tensor)]
    if bad:
        raise TypeError(
            f"save_tensors() needs tensors; '{bad[0]}' is a {type(tensors[bad[0]]).__name__}"
        )
    clean = {name: t.detach().to("cpu").contiguous().clone() for name, t in tensors.items()}
    header = {_META_KEY: json.dumps(metadata or {}, sort_keys=True)}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(clean, tmp, metadata=header)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_tensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load a file written by `save_tensors`; any problem becomes a one-line `CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' does not exist: check the path")
    try:
        tensors = load_file(str(path))
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(
            f"'{path}' is not a readable safetensors checkpoint ({reason}): "
            "it may be truncated or of another format; use a file saved by gmrl"
        ) from exc
    if _META_KEY not in header:
        raise CheckpointError(
            f"'{path}' is a safetensors file without gmrl metadata: use a file saved by gmrl"
        )
    try:
        metadata = json.loads(header[_META_KEY])
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"'{path}' has corrupt gmrl metadata: re-save the model") from exc
    return tensors, metadata


def with_prefix(prefix: str, tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`tensors` (detached, on the CPU) under names starting with `prefix`: one part of a
    saved agent's single tensor file (`under_prefix` takes it back out)."""
    return {f"{prefix}{key}": value.detach().cpu() for key, value in tensors.items()}


def under_prefix(tensors: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors whose names start with `prefix`, with the prefix taken off."""
    return {key[len(prefix):]: value for key, value in tensors.items() if key.startswith(prefix)}


def flatten_state(state: Any, prefix: str = "") -> tuple[dict[str, torch.Tensor], Any]:
    """Split a nested structure of dicts/lists/tensors/scalars into tensors and a JSON skeleton.

    Dict keys keep their type (optimizer states use integer keys), which plain JSON would lose.
    """
    tensors: dict[str, torch.Tensor] = {}

    def walk(node: Any, key: str) -> Any:
        if isinstance(node, torch.Tensor):
            tensors[key] = node
            return {"__tensor__": key}
        if isinstance(node, dict):
            return {
                "__dict__": [[k, walk(v, f"{key}.{k}" if key else str(k))] for k, v in node.items()]
            }
        if isinstance(node, (list, tuple)):
            items = [walk(v, f"{key}.{i}" if key else str(i)) for i, v in enumerate(node)]
            return {"__tuple__": items} if isinstance(node, tuple) else items
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        raise TypeError(f"cannot checkpoint a value of type {type(node).__name__} at '{key}'")

    skeleton = walk(state, prefix)
    return tensors, skeleton


def unflatten_state(tensors: dict[str, torch.Tensor], skeleton: Any) -> Any:
    """Inverse of `flatten_state`."""
    if isinstance(skeleton, dict):
        if "__tensor__" in skeleton:
            return tensors[skeleton["__tensor__"]]
        if "__dict__" in skeleton:
            return {k: unflatten_state(tensors, v) for k, v in skeleton["__dict__"]}
        if "__tuple__" in skeleton:
            return tuple(unflatten_state(tensors, v) for v in skeleton["__tuple__"])
    if isinstance(skeleton, list):
        return [unflatten_state(tensors, v) for v in skeleton]
    return skeleton


def save_state(
    path: str | Path, state: dict[str, Any], metadata: dict[str, Any] | None = None
) -> Path:
    """Atomically save an arbitrary nested state (model, optimizer, RNG, counters)."""
    tensors, skeleton = flatten_state(state)
    return save_tensors(path, tensors, {"state": skeleton, **(metadata or {})})


def load_state(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Load a state saved by `save_state`; returns (state, metadata)."""
    tensors, metadata = load_tensors(path)
    if "state" not in metadata:
        raise CheckpointError(
            f"'{path}' holds weights, not a run state: resume from a run directory"
        )
    state = unflatten_state(tensors, metadata.pop("state"))
    return state, metadata


# --------------------------------------------------------------------------- saved artifacts
# One persistence path for everything a user saves and loads (generative models, world models,
# agents, SB3 policies, buffers): a safetensors file whose gmrl header names the artifact's kind,
# the gmrl class that rebuilds it, that class's constructor arguments (JSON) and the nested state.

ARTIFACT_FORMAT = 1


@dataclass
class Artifact:
    """What `load_artifact` read: the class to build, its constructor arguments and its state."""

    path: Path
    kind: str
    cls: type
    init: dict[str, Any]
    state: Any
    extra: dict[str, Any]


def class_path(cls: type) -> str:
    """'module:QualName' for a class (what an artifact header records)."""
    return f"{cls.__module__}:{cls.__qualname__}"


def save_artifact(
    path: str | Path,
    *,
    kind: str,
    cls: type,
    init: dict[str, Any],
    state: Any,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Atomically save what `cls(**init)` plus `state` rebuilds (see `load_artifact`)."""
    tensors, skeleton = flatten_state(state)
    metadata = {
        "artifact": kind, "format": ARTIFACT_FORMAT, "class": class_path(cls),
        "init": init, "state": skeleton, "extra": extra or {},
    }
    return save_tensors(path, tensors, metadata)


def load_artifact(path: str | Path, *, kind: str, base: type | None = None) -> Artifact:
    """Read an artifact of `kind`; its class must live in gmrl and subclass `base`.

    Every problem (missing or truncated file, another kind, a class outside gmrl or unknown to
    this version) is a one-line `CheckpointError`; nothing is unpickled or executed.
    """
    from gmrl.core.imports import gmrl_object

    tensors, metadata = load_tensors(path)
    found = metadata.get("artifact")
    if found != kind:
        what = f"a gmrl {found}" if found else "not a gmrl artifact"
        raise CheckpointError(f"'{path}' is {what}, not a {kind}: load it with the matching class")
    try:
        module_name, class_name = str(metadata["class"]).split(":")
        init, skeleton = dict(metadata["init"]), metadata["state"]
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"'{path}' has a corrupt {kind} header: re-save it") from exc
    if module_name != "gmrl" and not module_name.startswith("gmrl."):
        raise CheckpointError(f"'{path}' names a class outside gmrl ({module_name}): refusing")
    try:
        target: Any = gmrl_object(f"{module_name}:{class_name}")
    except (ImportError, AttributeError, ValueError) as exc:
        raise CheckpointError(
            f"'{path}' needs {class_name}, unknown to this gmrl version: re-save it"
        ) from exc
    if base is not None and not (isinstance(target, type) and issubclass(target, base)):
        raise CheckpointError(f"'{path}' holds a {class_name}, not a {base.__name__}")
    state = unflatten_state(tensors, skeleton)
    return Artifact(Path(path), kind, target, init, state, dict(metadata.get("extra") or {}))


def restore_or_explain(path: str | Path, what: str, restore: Callable[[], None]) -> None:
    """Run `restore()` (e.g. `load_state_dict` calls); a mismatch becomes one CheckpointError line.

    Used where saved state meets a freshly built object: a changed layer size or another model
    family gives "'<path>' does not fit <what>: <first line>" instead of a traceback.
    """
    try:
        restore()
    except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"'{path}' does not fit {what} ({first[:160]}): it was saved with another "
            "configuration; start a new run or use the matching config"
        ) from exc
