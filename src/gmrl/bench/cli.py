"""`gmrl bench all`: run every benchmark (quick or full), write the report, update the docs.

Reached through `gmrl bench all ...` (the `bench` command hands its arguments here), so
`gmrl bench NAME` keeps running one script with its own arguments.
"""

import shlex
import time
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gmrl.bench.docs import update_docs
from gmrl.bench.registry import BENCHMARKS, by_name, command_line, mode_dir
from gmrl.bench.report import docs_body, merge_with_earlier, write_report
from gmrl.bench.runner import run_all
from gmrl.core.errors import GmrlError, describe_os_error

DOCS = Path("docs/benchmarks/quick.md")  # the quick run's page (BENCHMARKS.md is curated)
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
_console = Console(stderr=True)


def _fail(message: str, code: int = 2) -> NoReturn:
    _console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def print_registry() -> None:
    """The registry as a table: name, what it compares, quick and full commands."""
    table = Table(title="gmrl bench all: benchmarks", show_lines=True)
    table.add_column("name", no_wrap=True)
    for column in ("compares", "quick", "full"):
        table.add_column(column, overflow="fold")
    for bench in BENCHMARKS:
        table.add_row(bench.name, bench.compares,
                      command_line(bench, "quick", mode_dir("quick")),
                      command_line(bench, "full", mode_dir("full")))
    Console().print(table)


@app.command()
def bench_all(
    quick: Annotated[bool, typer.Option(
        "--quick/--full", help="Quick budgets (1 seed, minutes each; results in "
        "benchmarks/results/quick/) or the full settings the docs quote.")] = False,
    only: Annotated[Optional[list[str]], typer.Option(  # noqa: UP045 - typer on Python 3.10
        "--only", help="Run only this benchmark (repeat for more); the others keep their "
        "results from the last run of the same mode in bench_all.json.")] = None,
    list_: Annotated[bool, typer.Option(
        "--list", help="Print the benchmarks and their commands; run nothing.")] = False,
    update_docs_: Annotated[Optional[bool], typer.Option(  # noqa: UP045
        "--update-docs/--no-update-docs", help="Rewrite the generated region of "
        "docs/benchmarks/quick.md (default: on with --quick and no --only).")] = None,
) -> None:
    """Run every benchmark, each beside its peer, and write bench_all.json / bench_all.md.

    Examples:

      gmrl bench all --list

      gmrl bench all --quick                  # about half an hour on 2 cores; updates the docs

      gmrl bench all --quick --only seqgan --no-update-docs
    """
    if list_:
        print_registry()
        return
    mode = "quick" if quick else "full"
    update = (quick and not only) if update_docs_ is None else update_docs_
    if update and not quick:
        _fail("--update-docs rewrites the quick-run region of docs/benchmarks/quick.md: use it "
              "with --quick (full results are curated in docs/BENCHMARKS.md)")
    try:
        selected = by_name(only, BENCHMARKS)
    except ValueError as exc:
        _fail(f"{exc}: see gmrl bench all --list")
    root = Path.cwd()
    if not (root / "benchmarks").is_dir():
        _fail(f"no benchmarks/ folder in {root}: run gmrl bench all from the repository root")
    out = mode_dir(mode)
    argv = ["gmrl bench all", f"--{mode}", *(f"--only {shlex.quote(n)}" for n in only or [])]
    command = " ".join(argv)
    start = time.perf_counter()
    try:
        outcomes = run_all(selected, mode, out, root, _console)
        ran, kept_from = outcomes, None
        if only:  # keep the earlier results of the benchmarks not rerun
            selected, outcomes, kept_from = merge_with_earlier(BENCHMARKS, ran, mode, root / out)
        record = write_report(selected, outcomes, mode, out, root, command,
                              time.perf_counter() - start, kept_from=kept_from)
        if update:
            changed = update_docs(root / DOCS, docs_body(selected, outcomes, record, out, root))
            _console.print(f"{DOCS}: {'updated' if changed else 'unchanged'}", highlight=False)
    except GmrlError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(describe_os_error(exc, "writing the benchmark report"), code=1)
    failed = [o.name for o in ran if o.status == "failed"]
    _console.print(f"wrote {out}/bench_all.json and bench_all.md in "
                   f"{record['total_seconds'] / 60:.1f} min"
                   + (f"; failed: {', '.join(failed)}" if failed else ""), highlight=False)
    if failed:
        raise typer.Exit(1)


def main(args: list[str]) -> None:
    """Entry point for `gmrl bench all ARGS` (exits with the command's code)."""
    typer.main.get_command(app).main(args=args, prog_name="gmrl bench all")
