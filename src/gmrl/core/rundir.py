"""Run directories: everything one experiment writes, in one place, resumable.

```
runs/<recipe>-<timestamp>/
  config.yaml      the resolved config (after overrides)
  metrics.csv      one row per logged step; deterministic for a given config and seed
  events.*         TensorBoard scalars (also wall-clock figures, which metrics.csv leaves out)
  checkpoints/     state-<step>.safetensors written atomically, plus latest.json (the manifest:
                   the latest checkpoint and the sha256 of each kept one, verified on resume)
  plots/*.png      figures
  summary.json     final figures (strict JSON: a figure that is NaN or infinite is null)
  run.json         sha256 of config.yaml as gmrl last wrote it, and each resume's overrides
  error.log        the full traceback of an error that ended the run (the terminal shows a line)
  .lock            flock'ed by the process using the directory
```
Keys starting with `time/` (wall-clock figures such as SPS) go to TensorBoard only, so that
`metrics.csv` is identical across reruns with the same seed.

Safety: a `RunDir` holds an exclusive lock (`flock` on `.lock`) from the moment it is opened until
`close()`, so a second `gmrl run --resume` on the same folder is refused before it writes anything;
`create` never collides with a concurrent `create` (exclusive `mkdir`, retried with a suffix);
temp files left by a killed run (`.*.tmp`) are removed once the lock is held; summary.json is
strict JSON (NaN and infinity become null); OS errors become one-line `RunDirError`s.

Integrity on resume: a checkpoint whose bytes are not those saved (one flipped bit, a truncated
or replaced file) is refused, naming the file; a config.yaml edited by hand since gmrl wrote it
(its sha256 no longer the one in run.json) is refused; so is a metrics.csv that is missing, cut
off, or holds fewer rows up to the last checkpoint than that checkpoint recorded (rows would be
lost silently otherwise).
"""

import contextlib
import csv
import errno
import fcntl
import hashlib
import io
import json
import math
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from rich.progress import Progress

from gmrl.core.checkpoint import (
    atomic_write_text,
    file_sha256,
    load_state,
    save_state,
    verify_sha256,
)
from gmrl.core.errors import CheckpointError, ConfigError, RunDirError, describe_os_error
from gmrl.core.progress import make_progress

WALL_CLOCK_PREFIX = "time/"
LOCK_FILE = ".lock"
RUN_FILE = "run.json"
LATEST = "latest.json"  # the checkpoints' manifest: the latest one, and the sha256 of each kept
ERROR_LOG = "error.log"
# what `RunDir.create` writes before any work: a run refused then holds nothing else
_BOOKKEEPING = {"config.yaml", RUN_FILE, LOCK_FILE, ERROR_LOG}
STOP_MESSAGE = "stopping after this step\u2026 (Ctrl-C again to abort)"


def hold_lock(file: Path, what: str, holder: str) -> IO[str]:
    """Open `file` and take an exclusive, non-blocking `flock` on it (released when the returned
    handle closes). Held elsewhere: one `RunDirError` line naming `what` (the folder holding
    `file`) and its `holder`; other OS errors: one line too."""
    try:
        handle = file.open("a")
    except OSError as exc:
        raise RunDirError(describe_os_error(exc, f"locking the {what}")) from exc
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.close()
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise RunDirError(
                f"{what} '{file.parent}' is in use by another {holder}: "
                "wait for it to finish (or stop it) before resuming"
            ) from exc
        raise RunDirError(describe_os_error(exc, f"locking the {what}")) from exc
    return handle


def claim_new_dir(root: Path, prefix: str) -> Path:
    """Make and return `root/<prefix>-<timestamp>`, suffixed -2, -3... on collision.

    Safe against concurrent callers: each candidate is claimed by an exclusive `mkdir`, so two
    processes never share a directory. A `root` that is a file is a one-line `RunDirError`;
    other OS errors propagate for the caller to describe.
    """
    if root.exists() and not root.is_dir():
        raise RunDirError(f"runs folder '{root}' is a file, not a folder: choose another --runs")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    root.mkdir(parents=True, exist_ok=True)
    suffix = 1
    while True:
        path = root / (f"{prefix}-{stamp}" + (f"-{suffix}" if suffix > 1 else ""))
        try:
            path.mkdir()
            return path
        except FileExistsError:
            suffix += 1


class RunDir:
    """Handle on one run directory: metrics, checkpoints, plots, summary, Ctrl-C handling."""

    def __init__(
        self,
        path: str | Path,
        *,
        quiet: bool = False,
        keep_checkpoints: int = 3,
        recipe: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.quiet = quiet
        self.keep_checkpoints = keep_checkpoints
        self.recipe = recipe
        self.stop_requested = False
        self.stop_signal: str | None = None
        self.pending_config: str | None = None
        self.pending_overrides: list[str] = []
        self._damaged_rows: list[dict[str, Any]] = []
        self._lock()
        self._remove_stale_temp_files()
        self._rows: list[dict[str, Any]] = self._read_rows()
        self._columns: list[str] = list(self._rows[0]) if self._rows else []
        self._writer: Any = None
        self._start = time.perf_counter()

    # ----------------------------------------------------------------------------- creation
    @classmethod
    def create(cls, root: str | Path, recipe: str, config_yaml: str, **kwargs: Any) -> "RunDir":
        """Make `root/<recipe>-<timestamp>` (suffixing -2, -3... on collision) with config.yaml.

        Safe against concurrent callers: each candidate is claimed by an exclusive `mkdir`, so
        two processes never share a directory and neither fails on the other's.
        """
        try:
            path = claim_new_dir(Path(root), recipe)
            (path / "checkpoints").mkdir()
            (path / "plots").mkdir()
            atomic_write_text(path / "config.yaml", config_yaml)
            _write_run_record(path, {"config_sha256": sha256_text(config_yaml)})
        except OSError as exc:
            raise RunDirError(describe_os_error(exc, "creating the run directory")) from exc
        kwargs.setdefault("recipe", recipe)
        return cls(path, **kwargs)

    @classmethod
    def open_existing(cls, path: str | Path, **kwargs: Any) -> "RunDir":
        """Open (and lock) a run directory for resuming; it must hold a config.yaml."""
        path = Path(path)
        if not (path / "config.yaml").is_file():
            raise ConfigError(
                f"'{path}' is not a gmrl run directory (no config.yaml): check the path"
            )
        if "recipe" not in kwargs:
            kwargs["recipe"] = _recipe_of(path / "config.yaml")
        return cls(path, **kwargs)

    # ----------------------------------------------------------------------------- safety
    def _lock(self) -> None:
        """Take the directory's exclusive lock, or refuse: another process is using it.

        The lock lives on an open file object, so it is released by `close()`, by the handle
        being garbage-collected, or by the process dying (even with kill -9).
        """
        handle = hold_lock(self.path / LOCK_FILE, "run directory", "gmrl process")
        self._lock_handle: IO[str] | None = handle

    def _unlock(self) -> None:
        handle, self._lock_handle = getattr(self, "_lock_handle", None), None
        if handle is not None:
            handle.close()  # closing the file releases the flock

    def _remove_stale_temp_files(self) -> None:
        """Delete `.*.tmp` files a killed run left behind (safe: we hold the lock)."""
        for folder in (self.path, self.path / "checkpoints", self.path / "plots"):
            if folder.is_dir():
                for stale in folder.glob(".*.tmp"):
                    # a read-only folder: the run fails later, with one line
                    with contextlib.suppress(OSError):
                        stale.unlink()

    def commit_config(self) -> None:
        """Write `pending_config` (a resume's overrides) into config.yaml, atomically, once.

        Called when the resume really started (the checkpoint restored fine), so a refused or
        failed resume leaves config.yaml as it was.
        """
        if self.pending_config is not None:
            record = read_run_record(self.path)
            new = sha256_text(self.pending_config)
            if record is not None:  # while config.yaml is being replaced, either one is the run's
                old = record.get("config_sha256")
                _write_run_record(self.path, {**record, "config_sha256": new,
                                              "previous_config_sha256": old})
            atomic_write_text(self.path / "config.yaml", self.pending_config)
            if record is not None:
                resumes = [*record.get("resumes", []), {"overrides": self.pending_overrides}]
                record.pop("previous_config_sha256", None)
                _write_run_record(self.path, {**record, "config_sha256": new, "resumes": resumes})
            self.pending_config = None

    def check_config_unchanged(self, resolved_yaml: str) -> None:
        """Refuse a config.yaml edited since gmrl wrote it (one line naming it and what to do).

        Accepted: the file as gmrl wrote it, or any text that resolves to the same config
        (`resolved_yaml`, e.g. only comments added). Run directories made before run.json
        existed (or by a sweep) have no record and are not checked.
        """
        record = read_run_record(self.path)
        if record is None:
            return
        accepted = {record.get("config_sha256"), record.get("previous_config_sha256")} - {None}
        file = self.path / "config.yaml"
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return  # load_config has already said why it cannot be read
        if sha256_text(text) in accepted or sha256_text(resolved_yaml) in accepted:
            return
        raise ConfigError(
            f"'{file}' was edited after the run started (its sha256 is not the one in "
            f"{RUN_FILE}): undo the edit and give the change as an override instead, "
            f"e.g. gmrl run --resume {self.path} key=value"
        )

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
        text = file.read_text(encoding="utf-8", errors="replace")
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        # rows cut off (a truncated file, or a kill while a row was appended): they matter only
        # when they belong to the run up to the checkpoint a resume starts from
        self._damaged_rows = [row for row in rows if None in row.values()]
        if rows and text and not text.endswith("\n") and rows[-1] not in self._damaged_rows:
            self._damaged_rows.append(rows[-1])
        return rows

    def _rows_up_to(self, step: int) -> int:
        """How many metrics rows belong to the run up to `step` (those a resume keeps)."""
        steps = (_step_of(row) for row in self._rows)
        return sum(1 for found in steps if found is not None and found <= step)

    def _check_metrics(self, step: int, recorded: Any) -> None:
        """Refuse to resume when metrics.csv lost rows the checkpoint at `step` had behind it."""
        if not isinstance(recorded, int) or recorded <= 0:
            return  # a checkpoint from before rows were counted, or with nothing logged yet
        file = self.path / "metrics.csv"
        problem = None
        if not file.is_file():
            problem = "is missing"
        elif any((found := _step_of(row)) is None or found <= step
                 for row in self._damaged_rows):
            problem = "is cut off (a row up to the last checkpoint is incomplete)"
        elif (kept := self._rows_up_to(step)) < recorded:
            problem = f"has {kept} rows up to step {step}, but the checkpoint recorded {recorded}"
        if problem is not None:
            raise CheckpointError(
                f"'{file}' {problem}: resuming would lose metrics rows; put the file back "
                f"(e.g. from a backup), or start the run again with: gmrl run "
                f"{self.path / 'config.yaml'}"
            )

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
        """Flush and close TensorBoard output and release the directory's lock."""
        try:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        finally:
            self._unlock()

    def __enter__(self) -> "RunDir":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ----------------------------------------------------------------------------- checkpoints
    def save_checkpoint(self, step: int, state: dict[str, Any], **metadata: Any) -> Path:
        """Atomically write `state` (nested tensors and scalars) as the checkpoint for `step`."""
        file = self.checkpoints_dir / f"state-{step:08d}.safetensors"
        if self.recipe is not None:
            metadata.setdefault("recipe", self.recipe)
        metadata.setdefault("metrics_rows", self._rows_up_to(step))  # checked on resume
        save_state(file, state, {"step": step, **metadata})
        kept = sorted(self.checkpoints_dir.glob("state-*.safetensors"))
        old, kept = kept[: -self.keep_checkpoints], kept[-self.keep_checkpoints:]
        previous = self._recorded_sha256()
        sha256 = {f.name: (previous.get(f.name) if f != file and f.name in previous
                           else file_sha256(f)) for f in kept}
        manifest = {"step": step, "file": file.name, "sha256": sha256}
        atomic_write_text(self.checkpoints_dir / LATEST, json.dumps(manifest, indent=1))
        for stale in old:
            stale.unlink(missing_ok=True)
        self.flush()
        return file

    def load_latest_checkpoint(self, *, truncate: bool = True) -> tuple[int, dict[str, Any]] | None:
        """The last checkpoint's (step, state), or None for a fresh run.

        Metrics rows logged after that step (work lost when the run died) are dropped so that the
        resumed run's metrics.csv matches an uninterrupted one (`truncate=False` leaves that to a
        later `truncate_metrics(step)`, once the state restored fine). A checkpoint written by
        another recipe is refused with one line.
        """
        pointer = self.checkpoints_dir / LATEST
        if not pointer.is_file():
            return None
        try:
            latest = json.loads(pointer.read_text())
            file = self.checkpoints_dir / latest["file"]
            recorded = latest.get("sha256")
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError,
                UnicodeDecodeError) as exc:
            raise CheckpointError(f"'{pointer}' is corrupt: delete it to restart the run") from exc
        if isinstance(recorded, dict):  # checkpoints written before the manifest: not checked
            verify_sha256(file, recorded.get(file.name), pointer,
                          f"put the file back from a backup, or start the run again with: "
                          f"gmrl run {self.path / 'config.yaml'}")
        state, metadata = load_state(file)
        saved_by = metadata.get("recipe")
        if saved_by is not None and self.recipe is not None and saved_by != self.recipe:
            raise CheckpointError(
                f"'{file}' was written by recipe '{saved_by}', not '{self.recipe}': resume it "
                f"with its own config (recipe: {saved_by}) or start a new run"
            )
        try:
            step = int(metadata["step"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"'{file}' has no step in its header: use a gmrl run") from exc
        self._check_metrics(step, metadata.get("metrics_rows"))
        if truncate:
            self.truncate_metrics(step)
        return step, state

    def _recorded_sha256(self) -> dict[str, str]:
        """The sha256 of each kept checkpoint as latest.json records them ({} when unreadable)."""
        try:
            recorded = json.loads((self.checkpoints_dir / LATEST).read_text()).get("sha256")
        except (OSError, ValueError, AttributeError):
            return {}
        return recorded if isinstance(recorded, dict) else {}

    def truncate_metrics(self, step: int) -> None:
        """Drop metrics rows logged after `step` (the last checkpoint) from metrics.csv."""
        kept = [row for row in self._rows if int(row["step"]) <= step]
        if len(kept) != len(self._rows):
            self._rows = kept
            self._rewrite_csv()

    # ----------------------------------------------------------------------------- outputs
    def write_error_log(self, error: BaseException) -> Path:
        """Append `error`'s full traceback to error.log (the terminal shows one line only)."""
        import traceback

        file = self.path / ERROR_LOG
        stamp = datetime.now().isoformat(timespec="seconds")
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        with file.open("a", encoding="utf-8") as handle:
            handle.write(f"--- {stamp}\n{text}")
        return file

    def write_summary(self, summary: dict[str, Any]) -> Path:
        """Write the final figures to summary.json (atomically)."""
        file = self.path / "summary.json"
        text = json.dumps(strict_json(summary), indent=2, sort_keys=True, allow_nan=False)
        atomic_write_text(file, text + "\n")
        return file

    def progress(self) -> Progress:
        """A rich progress display (disabled with --quiet)."""
        return make_progress(self.quiet)

    @contextmanager
    def interrupt_guard(self) -> Iterator["RunDir"]:
        """Turn the first Ctrl-C (SIGINT), SIGTERM or SIGHUP into `stop_requested = True`.

        A scheduler, `timeout` or a closed terminal stops a run the way Ctrl-C does: recipes
        check `stop_requested` at step boundaries, save, then raise `RunInterrupted` (the CLI
        prints the `--resume` command and exits 130). A second signal aborts at once
        (`KeyboardInterrupt`). `stop_signal` names the signal that asked for the stop.
        """
        handled = [signal.SIGINT, *(getattr(signal, name) for name in ("SIGTERM", "SIGHUP")
                                    if hasattr(signal, name))]

        def handler(signum: int, frame: Any) -> None:
            if self.stop_requested:
                raise KeyboardInterrupt
            self.stop_requested = True
            self.stop_signal = signal.Signals(signum).name
            _acknowledge_stop(self.stop_signal)

        previous: dict[int, Any] = {}
        try:
            for number in handled:
                previous[number] = signal.getsignal(number)
                signal.signal(number, handler)
        except ValueError:  # pragma: no cover - not in the main thread: no handlers at all
            for number, old in previous.items():
                signal.signal(number, old)
            yield self
            return
        try:
            yield self
        finally:
            for number, old in previous.items():
                signal.signal(number, old)


def remove_if_unused(path: Path) -> bool:
    """Delete a run directory that holds nothing but what `RunDir.create` wrote (a refused run).

    A run refused after its directory was made (a music corpus that cannot be read, a model that
    does not fit) must not leave an empty run behind. Any metrics row, checkpoint, plot, summary or
    TensorBoard file keeps the directory. Returns whether it was removed; call it after `close()`.
    """
    import shutil

    try:
        entries = list(path.iterdir())
        for entry in entries:
            if entry.is_dir():
                if entry.name not in ("checkpoints", "plots") or any(entry.iterdir()):
                    return False
            elif entry.name not in _BOOKKEEPING and not entry.name.endswith(".tmp"):
                return False
        shutil.rmtree(path)
    except OSError:
        return False
    return True


def stop_message(signal_name: str = "SIGINT") -> str:
    """What the user sees at once when a stop was asked for (by Ctrl-C or another signal)."""
    if signal_name == "SIGINT":
        return STOP_MESSAGE
    return f"{signal_name} received: stopping after this step\u2026 (send it again to abort)"


def _acknowledge_stop(signal_name: str = "SIGINT") -> None:
    """Tell the user at once that the signal was heard (the stop itself waits for the step's
    end)."""
    message = stop_message(signal_name)
    for text in (message, message.replace("\u2026", "...")):
        try:
            sys.stderr.write(f"\n{text}\n")
            sys.stderr.flush()
            return
        except UnicodeEncodeError:
            continue
        except (OSError, ValueError):  # stderr closed (a hung-up terminal): nothing to tell
            return


def _step_of(row: dict[str, Any]) -> int | None:
    """A metrics row's step, or None when it is not a whole number (a damaged row)."""
    try:
        return int(row["step"])
    except (TypeError, ValueError, KeyError):
        return None


def sha256_text(text: str) -> str:
    """The sha256 of `text` (UTF-8), hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_run_record(path: Path) -> dict[str, Any] | None:
    """The run directory's run.json, or None when it has none (or an unreadable one)."""
    try:
        record = json.loads((path / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) else None


def _write_run_record(path: Path, record: dict[str, Any]) -> None:
    atomic_write_text(path / RUN_FILE, json.dumps(record, indent=2) + "\n")


def _recipe_of(config_file: Path) -> str | None:
    """The `recipe:` named in a run's config.yaml (None when unreadable; load_config says why)."""
    import yaml

    try:
        data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    name = data.get("recipe") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None


def strict_json(value: Any) -> Any:
    """`value` with NaN/infinity as None and numpy/torch scalars as Python numbers.

    summary.json must be valid JSON (`NaN` is not), e.g. `steps_to_target` when a target was
    never reached.
    """
    if isinstance(value, dict):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        try:
            return strict_json(value.item())
        except (TypeError, ValueError, RuntimeError):
            pass
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return number if math.isfinite(number) else None


def _fmt(value: Any) -> Any:
    """CSV cell for a metric: floats with full precision, so reruns compare exactly."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    value = float(value)
    return repr(value) if math.isfinite(value) else str(value)
