"""`gmrl report RUN_DIR... [-o report.html] [--title T]`: one HTML page about finished runs.

Registered by `gmrl.cli`; a path that is not a run directory is one line and exit code 2, and
nothing is written (an existing output file is kept).
"""

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from gmrl.core.errors import GmrlError
from gmrl.report import DEFAULT_TITLE

_console = Console(stderr=True)


def report(
    run_dirs: Annotated[
        list[Path],
        typer.Argument(
            metavar="RUN_DIR", help="Run directories (several are compared side by side), or "
            "one music sweep directory (its Pareto front, with audio)."
        ),
    ],
    out: Annotated[
        Path, typer.Option("-o", "--out", help="The HTML file to write.")
    ] = Path("report.html"),
    title: Annotated[str, typer.Option("--title", help="The page's title.")] = DEFAULT_TITLE,
) -> None:
    """Write one self-contained HTML page (curves, tables, figures, audio) about RUN_DIRs.

    Examples:

      gmrl report runs/generative-20261201-113615

      gmrl report runs/music-* -o music.html --title "music seeds 0-2"

      gmrl report runs/sweep-music-20261207-120000 -o pareto.html   # a KL-weight sweep
    """
    from gmrl.report.builder import write_report  # matplotlib loads only when a report is made

    try:
        path = write_report(run_dirs, out, title)
    except GmrlError as exc:
        _console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    typer.echo(f"report: {path}")
