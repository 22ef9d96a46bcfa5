"""Run benchmark scripts one after the other, each in its own subprocess.

A subprocess per benchmark means one that crashes (or runs out of memory) is recorded as failed,
with the last lines of its stderr, and the others still run. Each script's stdout and stderr go
to `<mode dir>/logs/<name>.log` / `.err`; a rich progress display shows which is running and
for how long.
"""

import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from gmrl.bench.registry import Benchmark, command_line

STDERR_TAIL = 12


@dataclass
class Outcome:
    """What running one benchmark gave: status ok / failed / not_available, timing, files."""

    name: str
    status: str
    seconds: float = 0.0
    command: str = ""
    returncode: int | None = None
    outputs: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    stderr_tail: list[str] = field(default_factory=list)
    log: str = ""


def _tail(path: Path, lines: int = STDERR_TAIL) -> list[str]:
    if not path.is_file():
        return []
    with path.open(errors="replace") as handle:
        return [line.rstrip("\n") for line in deque(handle, maxlen=lines)]


def run_one(bench: Benchmark, mode: str, out: Path, root: Path,
            timeout: float | None = None) -> Outcome:
    """Run `bench` in `mode` as `sys.executable <script> <args>` with cwd `root`."""
    command = command_line(bench, mode, out)
    if bench.script is None:
        return Outcome(bench.name, "not_available", command=command)
    logs = root / out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stdout_path, stderr_path = logs / f"{bench.name}.log", logs / f"{bench.name}.err"
    started = time.time()
    start = time.perf_counter()
    with stdout_path.open("w") as stdout, stderr_path.open("w") as stderr:
        try:
            returncode: int | None = subprocess.run(
                [sys.executable, bench.script, *bench.args(mode, out)], cwd=root,
                stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL, timeout=timeout,
                check=False).returncode
        except subprocess.TimeoutExpired:
            returncode = None
    seconds = time.perf_counter() - start
    expected = bench.outputs(mode, out)
    # an output counts only if this run wrote it (not a stale file from an earlier run)
    fresh = [p for p in expected
             if (root / p).is_file() and (root / p).stat().st_mtime >= started - 2]
    missing = [str(p) for p in expected if p not in fresh]
    tail = _tail(stderr_path)
    if returncode is None:
        status, tail = "failed", [*tail, f"timed out after {timeout:.0f} s"]
    elif returncode != 0:
        status = "failed"
    elif bench.json_path(mode, out) is not None and str(bench.json_path(mode, out)) in missing:
        status, tail = "failed", [*tail, f"exited 0 but did not write {bench.json_path(mode, out)}"]
    else:
        status = "ok"
    log = str(out / "logs" / stdout_path.name)
    return Outcome(bench.name, status, seconds, command, returncode, [str(p) for p in fresh],
                   missing, tail if status == "failed" else [], log)


def run_all(benchmarks: list[Benchmark], mode: str, out: Path, root: Path,
            console: Console | None = None, timeout: float | None = None) -> list[Outcome]:
    """Run every benchmark in turn; a failure is recorded and the next one starts."""
    console = console or Console(stderr=True)
    outcomes: list[Outcome] = []
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        overall = progress.add_task(f"bench all ({mode})", total=len(benchmarks))
        for bench in benchmarks:
            task = progress.add_task(f"  {bench.name}", total=1)
            outcome = run_one(bench, mode, out, root, timeout)
            outcomes.append(outcome)
            mark = {"ok": "[green]ok[/]", "failed": "[red]failed[/]"}.get(
                outcome.status, "[yellow]not yet available[/]")
            progress.update(task, completed=1,
                            description=f"  {bench.name}: {mark} ({outcome.seconds:.0f} s)")
            progress.stop_task(task)
            progress.advance(overall)
    return outcomes
