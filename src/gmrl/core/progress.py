"""Rich progress bars with ETA on stderr, silenced by `--quiet` or when stderr is not a terminal.

A live bar redraws one line in place; written into a pipe or a log file it would leave partial,
width-truncated lines behind. So when stderr is not a TTY the bar is off and `plain_status`
prints complete lines instead (the training loop emits one per checkpoint); `status_line` prints a
line in both cases (a stage's result, statistics at the end).
"""

import contextlib
import sys

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def stderr_is_terminal() -> bool:
    """Whether stderr is an interactive terminal (where live progress bars make sense)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def make_progress(quiet: bool = False) -> Progress:
    """A progress display showing description, bar, count, elapsed time, ETA and live metrics."""
    console = Console(stderr=True)
    return Progress(
        TextColumn("[bold blue]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        console=console,
        disable=quiet or not console.is_terminal,
        transient=False,
    )


def plain_status(text: str, quiet: bool = False) -> None:
    """One complete status line on stderr, for logs and pipes (nothing when a bar is shown)."""
    if quiet or stderr_is_terminal():
        return
    with contextlib.suppress(OSError, ValueError):  # stderr closed: nothing to tell
        print(text, file=sys.stderr, flush=True)


def status_line(text: str, quiet: bool = False) -> None:
    """One complete line on stderr, terminal or not (a stage's result, statistics at the end)."""
    if quiet:
        return
    with contextlib.suppress(OSError, ValueError):  # stderr closed: nothing to tell
        print(text, file=sys.stderr, flush=True)
