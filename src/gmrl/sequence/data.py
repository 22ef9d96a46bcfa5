"""Where the shared, read-only data lives (the SeqGAN oracle weights), found without network.

Lookup order: the folder named by the `GMRL_SHARED_DATA` environment variable, then a
`shared/data` folder beside any ancestor of this package or of the working directory (the repo
is checked out next to `shared/`, both on developer machines and in CI).
"""

import os
from pathlib import Path

from gmrl.core.errors import ConfigError

ENV_VAR = "GMRL_SHARED_DATA"
ORACLE_FILE = "seqgan_oracle.npz"


def _candidate_dirs() -> list[Path]:
    dirs: list[Path] = []
    if os.environ.get(ENV_VAR):
        dirs.append(Path(os.environ[ENV_VAR]).expanduser())
    for start in (Path(__file__).resolve(), Path.cwd().resolve()):
        dirs.extend(parent / "shared" / "data" for parent in start.parents)
    return list(dict.fromkeys(dirs))


def find_shared_file(name: str) -> Path | None:
    """The path of shared data file `name`, or None when no candidate folder holds it."""
    for folder in _candidate_dirs():
        if (folder / name).is_file():
            return folder / name
    return None


def shared_file(name: str) -> Path:
    """Like `find_shared_file`, but a missing file is a one-line `ConfigError`."""
    path = find_shared_file(name)
    if path is None:
        raise ConfigError(
            f"shared data file '{name}' not found: set {ENV_VAR} to the folder holding it "
            "(normally the shared/data folder beside the repository)"
        )
    return path


def oracle_path() -> Path:
    """The SeqGAN paper's oracle weights (`seqgan_oracle.npz`)."""
    return shared_file(ORACLE_FILE)
