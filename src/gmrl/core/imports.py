"""Import a user's `"package.module:name"` path, with one-line errors for every way it can fail.

Configs name user code this way (an env class, a reward or termination function). The caller
picks the error class (`ConfigError` for config fields, `EnvError` for envs) and says what the
path was for, so the message reads e.g. `model.reward 'pkg.mod:fn': module 'pkg.mod' has no
'fn'; did you mean 'pkg.mod:fun'?`.

A module in the current working directory is found without `PYTHONPATH=.`: `myenv.py` next to
where `gmrl run` is started makes `env.id=myenv:MyEnv` work, as it does for `python -m`. The
directory goes at the *end* of `sys.path`, so it never shadows an installed package.
"""

import contextlib
import difflib
import importlib
import os
import sys
from types import ModuleType
from typing import Any

from gmrl.core.errors import ConfigError, GmrlError


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def import_module_of(
    path: str, what: str, error: type[GmrlError] = ConfigError
) -> tuple[ModuleType, str]:
    """Import the module of `"package.module:name"`; returns `(module, name)`."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise error(f"{what} '{path}' must look like 'package.module:name'")
    try:
        try:
            return importlib.import_module(module_name), attribute
        except ModuleNotFoundError as exc:
            if not _is_missing(exc, module_name) or not _add_working_directory():
                raise
            return importlib.import_module(module_name), attribute
    except ImportError as exc:
        raise error(
            f"{what} '{path}': cannot import module '{module_name}' ({first_line(exc)}): "
            "check the module path and that the package is installed"
        ) from exc
    except Exception as exc:  # the user's module raised while being imported
        raise error(
            f"{what} '{path}': importing '{module_name}' raised "
            f"{type(exc).__name__}: {first_line(exc)}"
        ) from exc


def _is_missing(exc: ModuleNotFoundError, module_name: str) -> bool:
    """Whether `exc` says that `module_name` (or a package above it) is not found, rather than
    that the user's module itself imports something missing."""
    parts = module_name.split(".")
    return exc.name in {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def _add_working_directory() -> bool:
    """Put the current working directory at the end of `sys.path` (unless it is there already,
    also as '' or '.'); True when that may make a module importable that was not before."""
    with contextlib.suppress(OSError):  # a deleted working directory: nothing to add
        cwd = os.getcwd()
        importlib.invalidate_caches()  # a module written since the last import attempt
        entries = {os.path.abspath(entry or os.curdir) for entry in sys.path
                   if isinstance(entry, str)}
        if cwd not in entries:
            sys.path.append(cwd)
        return True
    return False


def attribute_of(
    module: ModuleType, name: str, what: str, error: type[GmrlError] = ConfigError
) -> Any:
    """`module.name`, or a one-line `error` with the closest public name as a suggestion."""
    if not hasattr(module, name):
        names = [n for n in dir(module) if not n.startswith("_")]
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean '{module.__name__}:{close[0]}'?" if close else ""
        raise error(f"{what}: module '{module.__name__}' has no '{name}'{hint}")
    return getattr(module, name)


def gmrl_object(path: str) -> Any:
    """The object a `"gmrl.module:Name"` string names (`Name` may be dotted: `Outer.Inner`):
    gmrl's own registries and the class or function a saved file records. Only gmrl's modules
    are imported (a `ValueError` otherwise: a saved file never makes gmrl import other code);
    `ImportError` / `AttributeError` when this gmrl has no such object (callers say which file
    or setting named it)."""
    module_name, _, name = path.partition(":")
    if not name or (module_name != "gmrl" and not module_name.startswith("gmrl.")):
        raise ValueError(f"'{path}' is not a 'gmrl.module:Name' path")
    target: Any = importlib.import_module(module_name)
    for part in name.split("."):
        target = getattr(target, part)
    return target


def import_object(path: str, what: str, error: type[GmrlError] = ConfigError) -> Any:
    """Import and return the object named by `"package.module:name"`."""
    module, name = import_module_of(path, what, error)
    return attribute_of(module, name, f"{what} '{path}'", error)
