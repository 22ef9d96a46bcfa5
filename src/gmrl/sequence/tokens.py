"""Token files: one sequence per line, space-separated integer token ids.

The plain-text form in which gmrl writes samples (SeqGAN's `samples_*.txt`, the music recipe's
`compositions.txt`) so that anyone can rescore them with other tools, and reads them back with a
one-line error naming the file, the line and the problem. A name ending in `.gz` is read and
written gzip-compressed (the benchmark keeps its 10,000-sample files that way).
"""

import gzip
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from gmrl.core.checkpoint import atomic_write_bytes, atomic_write_text
from gmrl.core.errors import GmrlError


class TokenFileError(GmrlError):
    """A token file that is missing, unreadable or holds something other than token ids."""


def write_token_file(sequences: Iterable[Iterable[int]], path: str | Path) -> Path:
    """Write one sequence per line (space-separated ids), atomically."""
    lines = [" ".join(str(int(token)) for token in row) for row in sequences]
    text = "".join(line + "\n" for line in lines)
    if str(path).endswith(".gz"):  # mtime 0: the same samples give the same bytes
        atomic_write_bytes(path, gzip.compress(text.encode("utf-8"), mtime=0))
    else:
        atomic_write_text(path, text)
    return Path(path)


def read_token_file(path: str | Path, *, vocab_size: int | None = None,
                    legend: str = "") -> np.ndarray:
    """`(N, T)` int64 ids from a token file; every line must hold the same number of ids.

    With `vocab_size`, ids outside `0..vocab_size-1` are refused (`legend` is appended to that
    message to say what the ids mean).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        text = (gzip.decompress(raw) if path.name.endswith(".gz") else raw).decode("utf-8")
    except FileNotFoundError:
        raise TokenFileError(f"token file {path} does not exist") from None
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise TokenFileError(f"cannot read token file {path}: {exc}") from None
    rows: list[list[int]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        row = []
        for token in line.split():
            try:
                value = int(token)
            except ValueError:
                raise TokenFileError(
                    f"{path}:{number}: token {token[:20]!r} is not an integer id"
                ) from None
            if vocab_size is not None and not 0 <= value < vocab_size:
                suffix = f" {legend}" if legend else ""
                raise TokenFileError(
                    f"{path}:{number}: id {value} outside 0..{vocab_size - 1}{suffix}"
                )
            row.append(value)
        if rows and len(row) != len(rows[0]):
            raise TokenFileError(
                f"{path}:{number}: {len(row)} ids where earlier lines have {len(rows[0])}; "
                "every sequence in a token file must have the same length"
            )
        rows.append(row)
    if not rows:
        raise TokenFileError(f"token file {path} holds no sequences")
    return np.array(rows, dtype=np.int64)
