"""The benchmark harness: a grid of cells, run serially or on Ray, recorded and resumable.

Every benchmark in benchmarks/ runs here, with one of two kinds of cell. Agent cells (`Grid`:
tasks x agents x seeds x budget): rl_policy_gradient, worldmodel_suite and worldmodel_vs_sb3.
Function cells (`FunctionGrid`: named variants x seeds, each cell one call of a top-level
function `(settings, seed) -> metrics`): generative_zoo (fit a zoo model),
synthetic_augmentation (fit a generator and dynamics models), tuner_kl, synthetic_vs_sac and
worldmodel_pixels (run a recipe config, as `gmrl run` does), seqgan_oracle (run the seqgan
recipe, resuming its run directory) and music_rltuner (pre-train and tune with every music
config). (benchmarks/diagnosis/ holds one-off studies, not benchmarks.)

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
- **Function cells.** A benchmark that is not an agent declares its variants and a function:

  ```python
  def run_one(settings: dict, seed: int) -> dict:      # top level: Ray imports it by path
      ...                                               # fit / run, return the metrics

  GRID = FunctionGrid(name="generative_zoo", function=script_function(__file__, "run_one"),
                      variants=(Variant("flow/two_moons", {"model": "flow", ...}), ...),
                      seeds=(0, 1, 2))
  ```

  The cell seeds Python, NumPy and torch with `gmrl.core.seeding.seed_everything(seed)`, calls
  `run_one(dict(variant.settings), seed)` (per-purpose streams inside come from `derive_seed` /
  `torch_generator`, never from offsets of the seed) and records the metrics it returns, its
  wall-clock and process time and the machine (`gmrl.bench.cell.run_function_cell`).
- **Where they run.** `run_grid(grid, out, workers=..., ray_address=...)`: `workers=1` (and no
  address) runs cells one after another in this process (debugging, tests); otherwise on Ray,
  one CPU per cell: a local Ray with `workers` CPUs (default: every core), or the running
  cluster at `ray_address` (`auto`: a local instance started with `ray start --head`; cells
  then run on every node, so a benchmark's `make` functions must be importable there).
- **Recorded and resumed.** Each finished cell is appended at once to `<out>.cells.jsonl` beside
  the summary `<out>.json`; a rerun skips cells already there with the same settings (a cell's
  digest covers its task, agent, seed, budget and evaluation), so a stopped run continues
  where it stopped; a function cell's digest covers its function, variant settings and seed.
  A failed cell is reported in one line and not recorded (a rerun retries it).
- **Summary.** `<out>.json`: benchmark, command, date, machine, the grid, per task and agent
  (function cells: per variant, each numeric metric) the median [min, max] over seeds
  (`gmrl.bench.summary`), and every cell's record. A benchmark with figures
  of its own passes `extend(grid, out, records) -> {key: value}` (added to the summary; e.g. the
  world-model suite's table rows, which also read its pre-harness runs) and `tables(summary) ->
  lines` (printed after the harness's table).

From the command line, `main` gives every benchmark the same flags (`--seeds N`, `--workers`,
`--ray-address`, `--out`, `--quick`, `--list`, `--report-only`; agent grids add `--tasks`,
`--agents` and `--budget`, function grids `--variants` (names or shell patterns)), and
`gmrl bench <script> ...` passes them through:

    gmrl bench rl_policy_gradient --seeds 5 --workers 2
    gmrl bench rl_policy_gradient --ray-address auto      # cells across a running Ray
    gmrl bench rl_policy_gradient --workers 1 --quick     # serially, in-process
    gmrl bench generative_zoo --seeds 3 --variants 'flow/*'
"""

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gmrl.bench.cell import run_cell, run_function_cell
from gmrl.bench.grid import Cell, FunctionCell, FunctionGrid, Grid, record_digest
from gmrl.bench.machine import machine
from gmrl.bench.summary import latest, numeric, summarise, summarise_functions
from gmrl.bench.tables import function_summary, harness_summary
from gmrl.core.checkpoint import atomic_write_text
from gmrl.core.errors import GmrlError
from gmrl.core.imports import first_line

AnyGrid = Grid | FunctionGrid
AnyCell = Cell | FunctionCell
Report = Callable[[str], None]
# (the grid given to `main` / `run_grid`, the summary's path, every record of its cells file)
Extend = Callable[[Any, Path, list[dict[str, Any]]], dict[str, Any]]
Tables = Callable[[dict[str, Any]], list[str]]
Done = Callable[[Any, dict[str, Any] | None, str], None]


def script_function(file: str | Path, name: str) -> str:
    """`"<script stem>:<name>"`, a `FunctionGrid.function` for the function `name` of the
    benchmark script at `file` (pass `__file__`); puts the script's folder on `sys.path` so the
    path imports in this process whether the script was started by `python` or by `gmrl bench`
    (`runpy`), and on Ray's workers (Ray gives them the driver script's folder when it is on the
    driver's path)."""
    folder = str(Path(file).resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return f"{Path(file).stem}:{name}"


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


def pending(grid: AnyGrid, records: Sequence[dict[str, Any]]) -> list[AnyCell]:
    """The grid's cells with no record of the same settings yet."""
    done = {(r.get("key"), record_digest(r)) for r in records}
    cells: list[AnyCell] = [*grid.cells()]
    return [c for c in cells if (c.key, c.digest) not in done]


def _append(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def _line(record: dict[str, Any], show: Sequence[str] = ()) -> str:
    if record.get("kind") == "function":
        metrics = numeric(record["metrics"])
        names = [n for n in show if n in metrics] if show else list(metrics)[:4]
        shown = ", ".join(f"{n} {metrics[n]:.4g}" for n in names)
        return f"{record['key']}: {shown + ', ' if shown else ''}{record['wall_seconds']:.0f} s"
    if record["reached"]:
        result = f"reached {record['threshold']:g} at {record['steps_to_threshold']:,} steps"
    else:
        result = f"final return {record['final_return']:.1f} after {record['steps']:,} steps"
    return f"{record['key']}: {result}, {record['train_seconds']:.0f} s"


def _execute(cell: AnyCell) -> dict[str, Any]:
    """Run one cell of either kind (the function Ray runs remotely, too)."""
    if isinstance(cell, FunctionCell):
        return run_function_cell(cell)
    return run_cell(cell)


def _run_serial(cells: list[AnyCell], done: Done) -> None:
    for cell in cells:
        try:
            record: dict[str, Any] | None = _execute(cell)
        except Exception as exc:  # one failed cell is reported; the others still run
            done(cell, None, first_line(exc))
            continue
        done(cell, record, "")


def _run_ray(cells: list[AnyCell], workers: int | None, address: str | None,
             done: Done) -> None:
    from gmrl.core.raysession import Resources, ray_session

    with ray_session(Resources(address=address, num_cpus=None if address else workers),
                     address_option="--ray-address"):
        import ray

        remote = ray.remote(num_cpus=1)(_execute)
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


def run_grid(grid: AnyGrid, out: str | Path, *, workers: int | None = None,
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

    show = grid.show if isinstance(grid, FunctionGrid) else ()

    def done(cell: AnyCell, record: dict[str, Any] | None, error: str) -> None:
        finished[0] += 1
        if record is None:
            failed[cell.key] = error
            say(f"  [{finished[0]}/{len(todo)}] {cell.key}: failed: {error}")
            return
        _append(records_file, record)
        say(f"  [{finished[0]}/{len(todo)}] {_line(record, show)}")

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


def write_summary(grid: AnyGrid, out: Path, *, failed: dict[str, str] | None = None,
                  command: str | None = None, extend: Extend | None = None) -> dict[str, Any]:
    """`out` from the grid's cells recorded so far (and the failures of this run), with the
    benchmark's own figures from `extend` (given every record of the cells file)."""
    everything = read_records(cells_path(out))
    records = latest(everything, grid)
    machines = {json.dumps(r["machine"], sort_keys=True) for r in records}
    if isinstance(grid, FunctionGrid):
        shape: dict[str, Any] = {"function": grid.function,
                                 "variants": [v.name for v in grid.variants],
                                 "seeds": list(grid.seeds)}
        medians = summarise_functions(grid, records)
    else:
        shape = {"tasks": [t.label for t in grid.tasks], "agents": [a.name for a in grid.agents],
                 "seeds": list(grid.seeds), "budget": grid.budget}
        medians = summarise(grid, records)
    summary = {
        "benchmark": grid.name, "description": grid.description,
        "command": command or " ".join(["python", *sys.argv]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(), "cell_machines": [json.loads(m) for m in sorted(machines)],
        "cells_recorded": len(records), "cells_total": len(grid.cells()),
        "failed": failed or {},
        "grid": shape, "summary": medians,
        "cells": records,
    }
    if extend is not None:
        summary.update(extend(grid, out, everything))
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(summary, indent=1) + "\n")
    return summary


# ----------------------------------------------------------------------------- command line
def parser(grid: AnyGrid, default_out: str | Path) -> argparse.ArgumentParser:
    """The flags every harness benchmark takes (an agent grid's `--tasks`, `--agents` and
    `--budget`, a function grid's `--variants`)."""
    parse = argparse.ArgumentParser(description=grid.description or grid.name)
    parse.add_argument("--seeds", type=int, default=None,
                       help=f"seeds 0 .. N-1 (default: {len(grid.seeds)})")
    if isinstance(grid, FunctionGrid):
        parse.add_argument("--variants", nargs="+", default=None,
                           help="a subset (names or shell patterns such as 'name/*') of: "
                           f"{' '.join(v.name for v in grid.variants)}")
    else:
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
                       help="the benchmark's quick grid (e.g. 1 seed, small budgets)")
    parse.add_argument("--list", action="store_true",
                       help="print the cells and which are recorded; run nothing")
    parse.add_argument("--report-only", action="store_true",
                       help="rewrite the summary from the recorded cells; run nothing")
    return parse


def main(grid: AnyGrid, argv: Sequence[str] | None = None, *, quick: AnyGrid | None = None,
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
    seeds = None if args.seeds is None else range(args.seeds)
    try:
        if isinstance(chosen, FunctionGrid):
            chosen = chosen.select(args.variants, seeds)
        else:
            chosen = chosen.select(args.tasks, args.agents, seeds, args.budget)
        if args.list:
            recorded = {(r.get("key"), record_digest(r))
                        for r in read_records(cells_path(args.out))}
            cells: list[AnyCell] = [*chosen.cells()]
            for cell in cells:
                mark = "recorded" if (cell.key, cell.digest) in recorded else "to run"
                budget = f" (budget {cell.budget:,})" if isinstance(cell, Cell) else ""
                print(f"{cell.key}{budget}: {mark}")
            return 0
        if args.report_only:
            summary = write_summary(chosen, args.out, extend=extend)
        else:
            summary = run_grid(chosen, args.out, workers=args.workers or os.cpu_count(),
                               ray_address=args.ray_address, extend=extend)
    except GmrlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if isinstance(chosen, FunctionGrid):
        print("\n".join(function_summary(summary["summary"], chosen.show)))
    else:
        print("\n".join(harness_summary(summary["summary"])))
    if tables is not None:
        print("\n".join(tables(summary)))
    print(f"wrote {args.out} ({summary['cells_recorded']}/{summary['cells_total']} cells)")
    return 1 if summary["failed"] else 0
