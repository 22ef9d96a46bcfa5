"""`bench_all.json`, `bench_all.md` and a wall-clock plot for one `gmrl bench all` run.

The JSON records, per benchmark, its status, seconds, command and output files; the Markdown
adds the machine, a summary table and one table per benchmark made from the JSON it wrote
(`registry.Benchmark.table`). A table that cannot be made (a missing file, a changed format) is
replaced by one line saying why, so the report is always written.
"""

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gmrl.bench.machine import machine, machine_line
from gmrl.bench.registry import Benchmark
from gmrl.bench.runner import Outcome
from gmrl.bench.tables import markdown_table
from gmrl.core.checkpoint import atomic_write_text


def benchmark_tables(benchmarks: list[Benchmark], outcomes: list[Outcome], mode: str,
                     out: Path, root: Path, level: str = "###") -> list[str]:
    """One section per benchmark: what it compares, its command, and its table (or why none)."""
    lines: list[str] = []
    for bench, outcome in zip(benchmarks, outcomes, strict=True):
        lines += [f"{level} {bench.name}", "", f"{bench.compares}.", ""]
        if outcome.status == "not_available":
            lines += [f"Not yet available: {bench.note}.", ""]
            continue
        lines += [f"`{outcome.command}` — {outcome.status}, {outcome.seconds:.0f} s.", ""]
        if bench.note:
            lines += [f"Note: {bench.note}.", ""]
        if outcome.status != "ok":
            lines += ["No table: the run failed (see `bench_all.json` for its last stderr "
                      "lines).", ""]
            continue
        lines += [*_table(bench, outcome, mode, out, root), ""]
    return lines


def _table(bench: Benchmark, outcome: Outcome, mode: str, out: Path, root: Path) -> list[str]:
    if bench.table is None:
        return ["No table for this benchmark."]
    path = bench.json_path(mode, out)
    try:
        data = json.loads((root / path).read_text()) if path is not None else None
        log_path = root / outcome.log
        log = log_path.read_text(errors="replace") if outcome.log and log_path.is_file() else ""
        return bench.table(data, log)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        return [f"No table: {type(exc).__name__}: {exc}."]


def summary_table(benchmarks: list[Benchmark], outcomes: list[Outcome]) -> list[str]:
    status = {"ok": "ok", "failed": "**failed**", "not_available": "not yet available"}
    return markdown_table(
        ["benchmark", "compares", "status", "wall-clock s"],
        [[b.name, b.compares, status.get(o.status, o.status),
          f"{o.seconds:.0f}" if o.status != "not_available" else "–"]
         for b, o in zip(benchmarks, outcomes, strict=True)])


def merge_with_earlier(registry: Sequence[Benchmark], outcomes: list[Outcome], mode: str,
                       folder: Path) -> tuple[list[Benchmark], list[Outcome], str | None]:
    """The registry's benchmarks with this run's outcomes, and the earlier `bench_all.json`'s
    (same mode) for those not rerun, so a run with `--only` does not drop the others' results.

    Returns the benchmarks, their outcomes and the earlier record's date and command (None when
    there was nothing to keep)."""
    fresh = {o.name: o for o in outcomes}
    try:
        earlier = json.loads((folder / "bench_all.json").read_text())
        kept = {o["name"]: Outcome(**o) for o in earlier["benchmarks"]}
        if earlier["mode"] != mode:
            kept = {}
    except (OSError, ValueError, KeyError, TypeError):
        kept = {}
    kept = {name: o for name, o in kept.items() if name not in fresh}
    benchmarks = [b for b in registry if b.name in fresh or b.name in kept]
    merged = [fresh.get(b.name) or kept[b.name] for b in benchmarks]
    source = f"{earlier['date']}, `{earlier['command']}`" if kept else None
    return benchmarks, merged, source


def write_report(benchmarks: list[Benchmark], outcomes: list[Outcome], mode: str, out: Path,
                 root: Path, command: str, total_seconds: float,
                 info: dict[str, Any] | None = None, kept_from: str | None = None
                 ) -> dict[str, Any]:
    """Write `<out>/bench_all.json`, `bench_all.md` and `bench_all_seconds.png`; return the JSON.

    `kept_from` names the earlier run whose outcomes some of `outcomes` are (see
    `merge_with_earlier`); it is recorded and printed beside the machine line."""
    info = info or machine()
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    record = {"mode": mode, "command": command, "date": date, "machine": info,
              "total_seconds": round(total_seconds, 1),
              "benchmarks": [{**asdict(o), "seconds": round(o.seconds, 1)} for o in outcomes]}
    if kept_from is not None:
        record["kept_from"] = kept_from
    folder = root / out
    atomic_write_text(folder / "bench_all.json", json.dumps(record, indent=2) + "\n")
    text = [f"# gmrl bench all ({mode})", "", f"Machine: {machine_line(info, date)}.", "",
            f"Command: `{command}`; total wall-clock {total_seconds / 60:.1f} min.{_kept(record)}",
            "",
            *summary_table(benchmarks, outcomes), "",
            *benchmark_tables(benchmarks, outcomes, mode, out, root, level="##")]
    atomic_write_text(folder / "bench_all.md", "\n".join(text).rstrip("\n") + "\n")
    plot_seconds(outcomes, folder / "bench_all_seconds.png")
    return record


def _kept(record: dict[str, Any]) -> str:
    kept = record.get("kept_from")
    return f" Benchmarks not rerun keep the results of the run of {kept}." if kept else ""


def plot_seconds(outcomes: list[Outcome], path: Path) -> None:
    """Horizontal bars of each benchmark's wall-clock (failed ones in red)."""
    from gmrl.core.plots import plt, save_figure

    ran = [o for o in outcomes if o.status != "not_available"]
    figure, axis = plt.subplots(figsize=(6, 0.4 * len(ran) + 1.2))
    axis.barh([o.name for o in ran], [o.seconds / 60 for o in ran],
              color=["tab:blue" if o.status == "ok" else "tab:red" for o in ran])
    axis.invert_yaxis()
    axis.set_xlabel("wall-clock minutes")
    axis.set_title("gmrl bench all")
    save_figure(figure, path)


def docs_body(benchmarks: list[Benchmark], outcomes: list[Outcome], record: dict[str, Any],
              out: Path, root: Path) -> str:
    """The generated region of docs/benchmarks/quick.md: machine, command, a table per benchmark."""
    lines = [
        f"## Quick run of every benchmark (generated by `{record['command']}`)", "",
        f"Machine: {machine_line(record['machine'], record['date'])}. Total wall-clock "
        f"{record['total_seconds'] / 60:.1f} min.{_kept(record)} Quick budgets (1 seed, short "
        "runs, small configs) show that every benchmark runs end to end and which way each "
        "comparison leans; they are not the numbers to quote — the curated full-mode sections "
        "below are. "
        f"Raw results: `{out}/bench_all.json` and each benchmark's JSON beside it.", "",
        *summary_table(benchmarks, outcomes), "",
        *benchmark_tables(benchmarks, outcomes, record["mode"], out, root, level="###"),
    ]
    return "\n".join(lines).strip() + "\n"
