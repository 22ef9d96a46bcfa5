"""Which files of a run directory the report may inline, and how they are held in memory."""

from dataclasses import dataclass
from pathlib import Path

# Folders whose files are not report material (model state, not something a person looks at).
SKIPPED_FOLDERS = frozenset({"checkpoints"})


@dataclass(frozen=True)
class Asset:
    """A file of the run to inline: its path relative to the run directory and its bytes."""

    name: str
    data: bytes


def run_files(path: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Files under `path` with one of `suffixes`, sorted, outside checkpoints and hidden files."""
    found = []
    for file in sorted(path.rglob("*")):
        relative = file.relative_to(path).parts
        if relative[0] in SKIPPED_FOLDERS or any(p.startswith(".") for p in relative):
            continue
        if file.suffix.lower() in suffixes and file.is_file():
            found.append(file)
    return found
