"""Error types whose message is a single line meant for the user.

The CLI prints `error: <message>` for any `GmrlError` and exits with code 2, so a message must
name the problem and what to do about it, without a traceback. An `OSError` met mid-run (disk
full, permissions) is also one line (`describe_os_error`), with exit code 1; Ctrl-C (or SIGTERM,
SIGHUP) exits 130.
"""


class GmrlError(Exception):
    """A user-facing problem (bad config, env, file or checkpoint) with a one-line message."""


class ConfigError(GmrlError):
    """A configuration file or override that cannot be used."""


class CheckpointError(GmrlError):
    """A checkpoint or weights file that is missing, truncated or not in gmrl's format."""


class EnvError(GmrlError):
    """A Gymnasium environment that does not exist or cannot be used with the chosen algorithm."""


class EnvStepError(EnvError):
    """An env that raised, or returned a bad value, in the middle of a run.

    Raised by `gmrl.rl.guard.EnvGuard` at the step; `TrainingLoop` then saves what was learned and
    sets `checkpoint_step`, so the CLI can say where the run can continue from.
    """

    checkpoint_step: int | None = None


class DataError(GmrlError, ValueError):
    """Training or scoring data that cannot be used (empty, NaN/inf, wrong shape or length).

    Also a `ValueError`, so code that catches bad arguments the standard way still does.
    """


class RunInterrupted(Exception):
    """Raised by a recipe after it saved a checkpoint because of Ctrl-C, SIGTERM or SIGHUP."""

    def __init__(self, step: int) -> None:
        super().__init__(f"interrupted after step {step}")
        self.step = step


class RunDirError(GmrlError):
    """A run directory that cannot be created, locked or written (in use, read-only, disk full)."""


def describe_os_error(exc: OSError, doing: str) -> str:
    """One line for an OS error met while `doing` something (e.g. "writing the checkpoint").

    Names the file and the usual fix (free disk space, fix permissions, pick another folder)
    instead of a traceback; the caller adds how to continue.
    """
    import errno

    where = f" '{exc.filename}'" if exc.filename else ""
    fixes = {
        errno.ENOSPC: "the disk is full: free some space",
        errno.EDQUOT: "the disk quota is exceeded: free some space",
        errno.EROFS: "the file system is read-only: choose a writable folder",
        errno.EACCES: "permission denied: fix the folder's permissions or choose another",
        errno.EPERM: "permission denied: fix the folder's permissions or choose another",
        errno.ENOTDIR: "a path component is a file, not a folder: choose another path",
        errno.EISDIR: "the path is a folder, not a file: choose a file",
        errno.ENOENT: "the path does not exist: check it",
    }
    reason = fixes.get(exc.errno or 0) or f"{exc.strerror or type(exc).__name__}"
    return f"{doing}{where} failed: {reason}"
