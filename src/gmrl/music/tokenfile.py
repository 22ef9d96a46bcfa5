"""Token files: one composition per line, its event ids separated by spaces.

The plain-text form of RL Tuner's evaluation sets (10,000 compositions of 32 events): easy to
diff, to read from any language, and to score again with `gmrl.music.metrics`.
"""

from pathlib import Path

import numpy as np
import torch

from gmrl.core.checkpoint import atomic_write_text
from gmrl.core.errors import ConfigError

NUM_EVENTS = 38


def write_token_file(path: str | Path, events: torch.Tensor | np.ndarray) -> Path:
    """Write `(N, T)` compositions atomically, one line each."""
    rows = np.asarray(events.cpu() if isinstance(events, torch.Tensor) else events, dtype=np.int64)
    if rows.ndim != 2:
        raise ValueError(f"token files hold (N, T) compositions, got shape {rows.shape}")
    text = "".join(" ".join(map(str, row)) + "\n" for row in rows.tolist())
    atomic_write_text(path, text)
    return Path(path)


def read_token_file(path: str | Path) -> np.ndarray:
    """Read a token file into an `(N, T)` int64 array; bad files are one-line `ConfigError`s."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"token file '{path}' not found: check the path")
    try:
        lines = [line.split() for line in path.read_text(encoding="utf-8").splitlines()]
        rows = [[int(tok) for tok in line] for line in lines if line]
    except (UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(
            f"'{path}' is not a token file (lines of space-separated event ids)"
        ) from exc
    if not rows or len({len(r) for r in rows}) != 1:
        raise ConfigError(f"token file '{path}' must hold non-empty lines of equal length")
    array = np.asarray(rows, dtype=np.int64)
    if array.min() < 0 or array.max() >= NUM_EVENTS:
        raise ConfigError(f"token file '{path}' holds ids outside 0..{NUM_EVENTS - 1}")
    return array
