"""Put a report together: read every run, draw the curves, fill the page, write it atomically.

All inputs are read and checked before the output is touched, and the file is written through a
temp file and a rename, so a bad run directory leaves an existing report as it was.
"""

from collections.abc import Sequence
from pathlib import Path

import gmrl
from gmrl.core.checkpoint import atomic_write_text
from gmrl.core.errors import describe_os_error
from gmrl.report import DEFAULT_TITLE
from gmrl.report.figures import learning_curves
from gmrl.report.page import render_page
from gmrl.report.reader import ReportError, RunData, read_run


def read_runs(paths: Sequence[str | Path]) -> list[RunData]:
    """Read each run directory; runs whose folder names clash are labelled name, name (2)..."""
    if not paths:
        raise ReportError("no run directory given: name at least one (e.g. runs/<recipe>-<time>)")
    runs: list[RunData] = []
    seen: dict[str, int] = {}
    for path in paths:
        try:
            run = read_run(path)
        except OSError as exc:  # unreadable file or folder (permissions, I/O error)
            raise ReportError(describe_os_error(exc, f"reading run directory '{path}'")) from exc
        seen[run.label] = seen.get(run.label, 0) + 1
        if seen[run.label] > 1:
            run.label = f"{run.label} ({seen[run.label]})"
        runs.append(run)
    return runs


def build_report(paths: Sequence[str | Path], title: str = DEFAULT_TITLE) -> str:
    """The self-contained HTML report of the run directories at `paths`."""
    runs = read_runs(paths)
    return render_page(title, runs, learning_curves(runs), f"gmrl {gmrl.__version__}")


def write_report(
    paths: Sequence[str | Path], out: str | Path, title: str = DEFAULT_TITLE
) -> Path:
    """Build the report and write it to `out` (replaced only once the page is complete)."""
    out = Path(out)
    if out.is_dir():
        raise ReportError(f"output '{out}' is a folder: give a file name (e.g. {out}/report.html)")
    text = build_report(paths, title)
    try:
        atomic_write_text(out, text)
        out.chmod(0o644)  # a page to share, not a private temp file (mkstemp's 0600)
    except OSError as exc:
        raise ReportError(describe_os_error(exc, "writing the report")) from exc
    return out
