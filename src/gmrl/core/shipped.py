"""The configs shipped with gmrl, found by name from any directory.

`gmrl run worldmodel/default` must work for a user who installed gmrl and stands in an empty
folder, not only inside the repository. There is one copy of the configs, the repository's
`configs/` folder: the wheel carries it as `gmrl/configs` (pyproject's force-include), and a
source checkout (an editable install) reads it where it is. `resolve_config` turns what the user
typed into a file: an existing path first, then a shipped config's name (`worldmodel/default`,
`worldmodel/default.yaml` or `configs/worldmodel/default.yaml` all name the same file).
"""

import difflib
from pathlib import Path

from gmrl.core.errors import ConfigError

_PACKAGE = Path(__file__).resolve().parents[1]  # .../gmrl


def configs_dir() -> Path:
    """Where the shipped configs are: gmrl/configs in a wheel, else the checkout's configs/."""
    packaged = _PACKAGE / "configs"
    if packaged.is_dir():
        return packaged
    return _PACKAGE.parents[1] / "configs"  # src/gmrl -> the repository root


def config_names() -> list[str]:
    """Every shipped config's name, e.g. 'rl/cartpole' (its path under configs/ without .yaml)."""
    root = configs_dir()
    if not root.is_dir():
        return []
    return sorted(str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.yaml"))


def resolve_config(text: str) -> Path:
    """The YAML file `text` means: an existing path, else the shipped config of that name.

    A name that matches neither is one `ConfigError` line with the closest shipped names; a
    `.yaml` path that matches neither is returned as is (reading it says it is not found).
    """
    path = Path(text).expanduser()
    if path.exists():
        return path
    name = text.removeprefix("./").removeprefix("configs/")
    name = name.removesuffix(".yaml").removesuffix(".yml")
    shipped = configs_dir() / f"{name}.yaml"
    if shipped.is_file():
        return shipped
    if text.endswith((".yaml", ".yml")):
        return path
    names = config_names()
    close = difflib.get_close_matches(name, names, n=2, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ConfigError(
        f"config '{text}' is neither a file nor the name of a shipped config{hint} "
        "(gmrl list shows the shipped configs; gmrl init writes a starter gmrl.yaml)"
    )
