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
from gmrl.report.pareto import is_sweep_dir
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


def build_report(paths: Sequence[str | Path], title: str = DEFAULT_TITLE,
                 out: Path | None = None) -> str:
    """The self-contained HTML report of the run directories at `paths`; a music sweep
    directory, given alone, gets its Pareto page instead (`gmrl.report.pareto`; its links are
    relative to `out`'s folder)."""
    sweeps = [Path(p) for p in paths if is_sweep_dir(Path(p))]
    if sweeps:
        if len(paths) > 1:
            raise ReportError(f"'{sweeps[0]}' is a sweep directory: give it alone (its Pareto "
                              "page), or give run directories (e.g. its trials/*)")
        return _sweep_page(sweeps[0], title, out)
    runs = read_runs(paths)
    return render_page(title, runs, learning_curves(runs), f"gmrl {gmrl.__version__}")


def write_report(
    paths: Sequence[str | Path], out: str | Path, title: str = DEFAULT_TITLE
) -> Path:
    """Build the report and write it to `out` (replaced only once the page is complete)."""
    out = Path(out)
    if out.is_dir():
        raise ReportError(f"output '{out}' is a folder: give a file name (e.g. {out}/report.html)")
    text = build_report(paths, title, out)
    try:
        atomic_write_text(out, text)
        out.chmod(0o644)  # a page to share, not a private temp file (mkstemp's 0600)
    except OSError as exc:
        raise ReportError(describe_os_error(exc, "writing the report")) from exc
    return out


def _sweep_page(sweep_dir: Path, title: str, out: Path | None) -> str:
    """The Pareto page of a music sweep; any other sweep is one line saying what to give."""
    from gmrl.core.config import read_yaml_mapping
    from gmrl.report.pareto import pareto_page

    recipe = read_yaml_mapping(sweep_dir / "sweep.yaml").get("base", {}).get("recipe")
    if recipe != "music":
        raise ReportError(f"'{sweep_dir}' is a sweep of recipe '{recipe}': gmrl report draws a "
                          f"sweep page for music sweeps only; give its trials ({sweep_dir}/"
                          "trials/*) to compare them as runs")
    page_title = title if title != DEFAULT_TITLE else f"Pareto front of {sweep_dir.name}"
    return pareto_page(sweep_dir, page_title, f"gmrl {gmrl.__version__}", out)
