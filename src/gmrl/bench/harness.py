"""The benchmark harness: a grid of cells, run serially or on Ray, recorded and resumable.

A benchmark script declares its grid and hands it to `main`:

```python
from gmrl.bench.grid import AgentSpec, Evaluation, Grid, Task
from gmrl.bench.harness import main

GRID = Grid(
    name="rl_policy_gradient",
    tasks=(Task("CartPole-v1", threshold=475.0),),
    agents=(AgentSpec("reinforce", {"agent": "reinforce", "params": {"num_envs": 8}}),
            AgentSpec("ppo", {"agent": "ppo", "params": {"n_envs": 8}})),
    seeds=tuple(range(5)), budget=100_000,
    evaluation=Evaluation(every=5_000, episodes=10),
)

if __name__ == "__main__":
    raise SystemExit(main(GRID, default_out="benchmarks/results/rl_policy_gradient.json"))
```

- **Cells.** `Grid.cells()`: one per (task, agent, seed), with its budget (grid, task, agent or
  per task and agent; `gmrl.bench.grid`). A cell calls only the public agent API
  (`gmrl.make_agent`, `learn(budget, callback)`, `gmrl.rl.rollout.evaluate_agent`) and records
  steps to threshold, wall-clock, process time, ms per real step, its evaluation curve and the
  machine (`gmrl.bench.cell`).
- **Where they run.** `run_grid(grid, out, workers=..., ray_address=...)`: `workers=1` (and no
  address) runs cells one after another in this process (debugging, tests); otherwise on Ray,
  one CPU per cell: a local Ray with `workers` CPUs (default: every core), or the running
  cluster at `ray_address` (`auto`: a local instance started with `ray start --head`; cells
  then run on every node, so a benchmark's `make` functions must be importable there).
- **Recorded and resumed.** Each finished cell is appended at once to `<out>.cells.jsonl` beside
  the summary `<out>.json`; a rerun skips cells already there with the same settings (a cell's
  digest covers its task, agent, seed, budget and evaluation), so a stopped run continues
  where it stopped. A failed cell is reported in one line and not recorded (a rerun retries it).
- **Summary.** `<out>.json`: benchmark, command, date, machine, the grid, per task and agent the
  medians over seeds (`gmrl.bench.summary`), and every cell's record. A benchmark with figures
  of its own passes `extend(grid, out, records) -> {key: value}` (added to the summary; e.g. the
  world-model suite's table rows, which also read its pre-harness runs) and `tables(summary) ->
  lines` (printed after the harness's table).

From the command line, `main` gives every benchmark the same flags (`--seeds N`, `--tasks`,
`--agents`, `--budget`, `--workers`, `--ray-address`, `--out`, `--quick`, `--list`,
`--report-only`), and
`gmrl bench <script> ...` passes them through:

    gmrl bench rl_policy_gradient --seeds 5 --workers 2
    gmrl bench rl_policy_gradient --ray-address auto      # cells across a running Ray
    gmrl bench rl_policy_gradient --workers 1 --quick     # serially, in-process
"""

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gmrl.bench.cell import run_cell
from gmrl.bench.grid import Cell, Grid
from gmrl.bench.machine import machine
from gmrl.bench.summary import latest, summarise
from gmrl.bench.tables import harness_summary
from gmrl.core.checkpoint import atomic_write_text
from gmrl.core.errors import GmrlError
from gmrl.core.imports import first_line

Report = Callable[[str], None]
Extend = Callable[[Grid, Path, list[dict[str, Any]]], dict[str, Any]]
Tables = Callable[[dict[str, Any]], list[str]]


def cells_path(out: Path) -> Path:
    """Where the cell records of the summary `out` go: `<out stem>.cells.jsonl` beside it."""
    return out.with_name(f"{out.stem}.cells.jsonl")


def read_records(path: Path) -> list[dict[str, Any]]:
    """The cell records in `path` (none when it is absent; a line torn by a kill is skipped)."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "key" in record:
            records.append(record)
    return records


def pending(grid: Grid, records: Sequence[dict[str, Any]]) -> list[Cell]:
    """The grid's cells with no record of the same settings yet."""
    done = {(r.get("key"), r.get("digest")) for r in records}
    return [c for c in grid.cells() if (c.key, c.digest) not in done]


def _append(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def _line(record: dict[str, Any]) -> str:
    if record["reached"]:
        result = f"reached {record['threshold']:g} at {record['steps_to_threshold']:,} steps"
    else:
        result = f"final return {record['final_return']:.1f} after {record['steps']:,} steps"
    return f"{record['key']}: {result}, {record['train_seconds']:.0f} s"


def _run_serial(cells: list[Cell], done: Callable[[Cell, dict[str, Any] | None, str], None]
                ) -> None:
    for cell in cells:
        try:
            record: dict[str, Any] | None = run_cell(cell)
        except Exception as exc:  # one failed cell is reported; the others still run
            done(cell, None, first_line(exc))
            continue
        done(cell, record, "")


def _run_ray(cells: list[Cell], workers: int | None, address: str | None,
             done: Callable[[Cell, dict[str, Any] | None, str], None]) -> None:
    from gmrl.core.raysession import Resources, ray_session

    with ray_session(Resources(address=address, num_cpus=None if address else workers),
                     address_option="--ray-address"):
        import ray

        remote = ray.remote(num_cpus=1)(run_cell)
        waiting = {remote.remote(cell): cell for cell in cells}
        while waiting:
            ready, _ = ray.wait(list(waiting), num_returns=1)
            for ref in ready:
                cell = waiting.pop(ref)
                try:
                    record = ray.get(ref)
                except Exception as exc:  # RayTaskError: the cell's own exception as its cause
                    done(cell, None, first_line(getattr(exc, "cause", None) or exc))
                    continue
                done(cell, record, "")


def run_grid(grid: Grid, out: str | Path, *, workers: int | None = None,
             ray_address: str | None = None, report: Report | None = None,
             extend: Extend | None = None) -> dict[str, Any]:
    """Run the grid's unfinished cells and write the summary; returns it.

    `workers=1` without `ray_address`: serially in this process. Otherwise on Ray (a local one
    with `workers` CPUs, default all; or the cluster at `ray_address`). Failed cells are listed
    in the summary's `failed` (key -> one line) and retried by the next run.
    """
    out = Path(out)
    say = report or (lambda text: print(text, file=sys.stderr, flush=True))
    records_file = cells_path(out)
    todo = pending(grid, read_records(records_file))
    total = len(grid.cells())
    say(f"{grid.name}: {len(todo)} of {total} cells to run "
        f"({total - len(todo)} already in {records_file})")
    failed: dict[str, str] = {}
    finished = [0]

    def done(cell: Cell, record: dict[str, Any] | None, error: str) -> None:
        finished[0] += 1
        if record is None:
            failed[cell.key] = error
            say(f"  [{finished[0]}/{len(todo)}] {cell.key}: failed: {error}")
            return
        _append(records_file, record)
        say(f"  [{finished[0]}/{len(todo)}] {_line(record)}")

    serial = ray_address is None and (workers == 1 or len(todo) <= 1 or not _have_ray())
    if todo and serial:
        _run_serial(todo, done)
    elif todo:
        _run_ray(todo, workers, ray_address, done)
    summary = write_summary(grid, out, failed=failed, extend=extend)
    return summary


def _have_ray() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def write_summary(grid: Grid, out: Path, *, failed: dict[str, str] | None = None,
                  command: str | None = None, extend: Extend | None = None) -> dict[str, Any]:
    """`out` from the grid's cells recorded so far (and the failures of this run), with the
    benchmark's own figures from `extend` (given every record of the cells file)."""
    everything = read_records(cells_path(out))
    records = latest(everything, grid)
    machines = {json.dumps(r["machine"], sort_keys=True) for r in records}
    summary = {
        "benchmark": grid.name, "description": grid.description,
        "command": command or " ".join(["python", *sys.argv]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(), "cell_machines": [json.loads(m) for m in sorted(machines)],
        "cells_recorded": len(records), "cells_total": len(grid.cells()),
        "failed": failed or {},
        "grid": {"tasks": [t.label for t in grid.tasks], "agents": [a.name for a in grid.agents],
                 "seeds": list(grid.seeds), "budget": grid.budget},
        "summary": summarise(grid, records),
        "cells": records,
    }
    if extend is not None:
        summary.update(extend(grid, out, everything))
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(summary, indent=1) + "\n")
    return summary


# ----------------------------------------------------------------------------- command line
def parser(grid: Grid, default_out: str | Path) -> argparse.ArgumentParser:
    """The flags every harness benchmark takes."""
    parse = argparse.ArgumentParser(description=grid.description or grid.name)
    parse.add_argument("--seeds", type=int, default=None,
                       help=f"seeds 0 .. N-1 (default: {len(grid.seeds)})")
    parse.add_argument("--tasks", nargs="+", default=None,
                       help=f"a subset of: {' '.join(t.label for t in grid.tasks)}")
    parse.add_argument("--agents", nargs="+", default=None,
                       help=f"a subset of: {' '.join(a.name for a in grid.agents)}")
    parse.add_argument("--budget", type=int, default=None,
                       help="real env steps for every cell (default: the grid's)")
    parse.add_argument("--workers", type=int, default=None,
                       help="cells at once on a local Ray (default: every core; 1: serially "
                       "in this process)")
    parse.add_argument("--ray-address", default=None,
                       help="run the cells on this Ray cluster (auto: a running local one)")
    parse.add_argument("--out", type=Path, default=Path(default_out),
                       help="summary JSON (cell records go to <stem>.cells.jsonl beside it)")
    parse.add_argument("--quick", action="store_true",
                       help="the benchmark's quick grid (1 seed, small budgets)")
    parse.add_argument("--list", action="store_true",
                       help="print the cells and which are recorded; run nothing")
    parse.add_argument("--report-only", action="store_true",
                       help="rewrite the summary from the recorded cells; run nothing")
    return parse


def main(grid: Grid, argv: Sequence[str] | None = None, *, quick: Grid | None = None,
         default_out: str | Path, extend: Extend | None = None,
         tables: Tables | None = None) -> int:
    """Run a benchmark from the command line; returns the exit code (1 if a cell failed).

    `extend` and `tables`: the benchmark's own summary figures and printed tables (see the
    module docstring)."""
    args = parser(grid, default_out).parse_args(argv)
    chosen = quick if args.quick and quick is not None else grid
    if args.workers is not None and args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return 2
    try:
        chosen = chosen.select(args.tasks, args.agents,
                               None if args.seeds is None else range(args.seeds), args.budget)
        if args.list:
            recorded = {(r.get("key"), r.get("digest"))
                        for r in read_records(cells_path(args.out))}
            for cell in chosen.cells():
                mark = "recorded" if (cell.key, cell.digest) in recorded else "to run"
                print(f"{cell.key} (budget {cell.budget:,}): {mark}")
            return 0
        if args.report_only:
            summary = write_summary(chosen, args.out, extend=extend)
        else:
            summary = run_grid(chosen, args.out, workers=args.workers or os.cpu_count(),
                               ray_address=args.ray_address, extend=extend)
    except GmrlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(harness_summary(summary["summary"])))
    if tables is not None:
        print("\n".join(tables(summary)))
    print(f"wrote {args.out} ({summary['cells_recorded']}/{summary['cells_total']} cells)")
    return 1 if summary["failed"] else 0
