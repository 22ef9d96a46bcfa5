"""Run directories: everything one experiment writes, in one place, resumable.

```
runs/<recipe>-<timestamp>/
  config.yaml      the resolved config (after overrides)
  metrics.csv      one row per logged step; deterministic for a given config and seed
  events.*         TensorBoard scalars (also wall-clock figures, which metrics.csv leaves out)
  checkpoints/     state-<step>.safetensors written atomically, plus latest.json
  plots/*.png      figures
  summary.json     final figures
```
Keys starting with `time/` (wall-clock figures such as SPS) go to TensorBoard only, so that
`metrics.csv` is identical across reruns with the same seed.
"""

import csv
import io
import json
import math
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.progress import Progress

from gmrl.core.checkpoint import atomic_write_text, load_state, save_state
from gmrl.core.errors import CheckpointError, ConfigError
from gmrl.core.progress import make_progress

WALL_CLOCK_PREFIX = "time/"


class RunDir:
    """Handle on one run directory: metrics, checkpoints, plots, summary, Ctrl-C handling."""

    def __init__(self, path: str | Path, *, quiet: bool = False, keep_checkpoints: int = 3) -> None:
        self.path = Path(path)
        self.quiet = quiet
        self.keep_checkpoints = keep_checkpoints
        self.stop_requested = False
        self._rows: list[dict[str, Any]] = self._read_rows()
        self._columns: list[str] = list(self._rows[0]) if self._rows else []
        self._writer: Any = None
        self._start = time.perf_counter()

    # ----------------------------------------------------------------------------- creation
    @classmethod
    def create(cls, root: str | Path, recipe: str, config_yaml: str, **kwargs: Any) -> "RunDir":
        """Make `root/<recipe>-<timestamp>` (suffixing -2, -3... on collision) with config.yaml."""
        root = Path(root)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = root / f"{recipe}-{stamp}"
        suffix = 2
        while path.exists():
            path = root / f"{recipe}-{stamp}-{suffix}"
            suffix += 1
        (path / "checkpoints").mkdir(parents=True)
        (path / "plots").mkdir()
        atomic_write_text(path / "config.yaml", config_yaml)
        return cls(path, **kwargs)

    @classmethod
    def open_existing(cls, path: str | Path, **kwargs: Any) -> "RunDir":
        """Open a run directory for resuming; it must hold a config.yaml."""
        path = Path(path)
        if not (path / "config.yaml").is_file():
            raise ConfigError(
                f"'{path}' is not a gmrl run directory (no config.yaml): check the path"
            )
        return cls(path, **kwargs)

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def plots_dir(self) -> Path:
        (self.path / "plots").mkdir(exist_ok=True)
        return self.path / "plots"

    # ----------------------------------------------------------------------------- metrics
    def _read_rows(self) -> list[dict[str, Any]]:
        file = self.path / "metrics.csv"
        if not file.is_file():
            return []
        with file.open(newline="") as handle:
            return list(csv.DictReader(handle))

    def _tensorboard(self) -> Any:
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            purge = int(self._rows[-1]["step"]) + 1 if self._rows else None
            self._writer = SummaryWriter(log_dir=str(self.path), purge_step=purge)
        return self._writer

    def log(self, step: int, metrics: dict[str, float]) -> None:
        """Record scalars for `step` in metrics.csv (deterministic keys) and TensorBoard (all)."""
        writer = self._tensorboard()
        for key, value in metrics.items():
            writer.add_scalar(key, float(value), step)
        writer.add_scalar(f"{WALL_CLOCK_PREFIX}elapsed_s", time.perf_counter() - self._start, step)
        row = {"step": step}
        row.update({k: _fmt(v) for k, v in metrics.items() if not k.startswith(WALL_CLOCK_PREFIX)})
        self._rows.append(row)
        new_columns = [k for k in row if k not in self._columns]
        if new_columns:
            self._columns.extend(new_columns)
            self._rewrite_csv()
        else:
            with (self.path / "metrics.csv").open("a", newline="") as handle:
                csv.DictWriter(handle, fieldnames=self._columns, lineterminator="\n").writerow(row)

    def _rewrite_csv(self) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self._columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self._rows)
        atomic_write_text(self.path / "metrics.csv", buffer.getvalue())

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Logged rows so far (values as written to the CSV)."""
        return list(self._rows)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    # ----------------------------------------------------------------------------- checkpoints
    def save_checkpoint(self, step: int, state: dict[str, Any], **metadata: Any) -> Path:
        """Atomically write `state` (nested tensors and scalars) as the checkpoint for `step`."""
        file = self.checkpoints_dir / f"state-{step:08d}.safetensors"
        save_state(file, state, {"step": step, **metadata})
        atomic_write_text(
            self.checkpoints_dir / "latest.json", json.dumps({"step": step, "file": file.name})
        )
        old = sorted(self.checkpoints_dir.glob("state-*.safetensors"))[: -self.keep_checkpoints]
        for stale in old:
            stale.unlink(missing_ok=True)
        self.flush()
        return file

    def load_latest_checkpoint(self) -> tuple[int, dict[str, Any]] | None:
        """The last checkpoint's (step, state), or None for a fresh run.

        Metrics rows logged after that step (work lost when the run died) are dropped so that the
        resumed run's metrics.csv matches an uninterrupted one.
        """
        pointer = self.checkpoints_dir / "latest.json"
        if not pointer.is_file():
            return None
        try:
            latest = json.loads(pointer.read_text())
            file = self.checkpoints_dir / latest["file"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise CheckpointError(f"'{pointer}' is corrupt: delete it to restart the run") from exc
        state, metadata = load_state(file)
        step = int(metadata["step"])
        kept = [row for row in self._rows if int(row["step"]) <= step]
        if len(kept) != len(self._rows):
            self._rows = kept
            self._rewrite_csv()
        return step, state

    # ----------------------------------------------------------------------------- outputs
    def write_summary(self, summary: dict[str, Any]) -> Path:
        """Write the final figures to summary.json (atomically)."""
        file = self.path / "summary.json"
        atomic_write_text(file, json.dumps(summary, indent=2, sort_keys=True, default=float) + "\n")
        return file

    def progress(self) -> Progress:
        """A rich progress display (disabled with --quiet)."""
        return make_progress(self.quiet)

    @contextmanager
    def interrupt_guard(self) -> Iterator["RunDir"]:
        """Turn the first Ctrl-C into `stop_requested = True` (a second one aborts at once).

        Recipes check `stop_requested` at checkpoint boundaries, save, then raise `RunInterrupted`.
        """
        try:
            previous = signal.getsignal(signal.SIGINT)
        except ValueError:  # pragma: no cover - not in main thread
            yield self
            return

        def handler(signum: int, frame: Any) -> None:
            if self.stop_requested:
                raise KeyboardInterrupt
            self.stop_requested = True

        try:
            signal.signal(signal.SIGINT, handler)
        except ValueError:  # pragma: no cover - not in main thread
            yield self
            return
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)


def _fmt(value: Any) -> Any:
    """CSV cell for a metric: floats with full precision, so reruns compare exactly."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    value = float(value)
    return repr(value) if math.isfinite(value) else str(value)
