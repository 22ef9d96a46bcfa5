"""A benchmark's summary from its cell records: per task and agent (an agent grid) or per
variant (a function grid), medians over seeds.

`{median, min, max}` mappings throughout (what `gmrl.bench.tables.spread` prints). Steps to the
threshold are summarised twice: over the seeds that reached it, and over every seed with an
unreached one counting as never (`steps_all_seeds_median` is None when the median seed did not
reach it: a "> budget" result, not a number).
"""

import math
import statistics
from collections.abc import Iterable, Sequence
from typing import Any

from gmrl.bench.grid import FunctionGrid, Grid, record_digest


def stats(values: Iterable[float | None]) -> dict[str, float] | None:
    """Median, min and max of the values given (None ones skipped); None when there are none."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None
    return {"median": statistics.median(finite), "min": min(finite), "max": max(finite)}


def latest(records: Iterable[dict[str, Any]], grid: Grid | FunctionGrid
           ) -> list[dict[str, Any]]:
    """The grid's cells' records in grid order: the last record of each cell whose digest
    matches the cell the grid asks for now (older settings' records are ignored)."""
    by_cell = {(r.get("key"), record_digest(r)): r for r in records}
    return [by_cell[(c.key, c.digest)] for c in grid.cells() if (c.key, c.digest) in by_cell]


def summarise(grid: Grid, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """`{task: {"threshold": t, agent: row}}` over the grid's recorded cells."""
    out: dict[str, Any] = {}
    for task in grid.tasks:
        row_of_task: dict[str, Any] = {"threshold": task.threshold}
        for agent in grid.agents:
            mine = [r for r in records if r["task"] == task.label and r["agent"] == agent.name]
            if not mine:
                continue
            reached = [r["steps_to_threshold"] for r in mine if r["reached"]]
            ordered = sorted(math.inf if not r["reached"] else r["steps_to_threshold"]
                             for r in mine)
            middle = statistics.median(ordered)
            row_of_task[agent.name] = {
                "budget": grid.budget_for(task, agent), "seeds": len(mine),
                "reached": len(reached), "solved": f"{len(reached)}/{len(mine)}",
                "steps_to_threshold": stats(reached),
                "steps_all_seeds_median": None if math.isinf(middle) else middle,
                "seconds_to_threshold": stats(r["seconds_to_threshold"] for r in mine),
                "train_seconds": stats(r["train_seconds"] for r in mine),
                "cpu_seconds": stats(r["cpu_seconds"] for r in mine),
                "ms_per_step": stats(r["ms_per_step"] for r in mine),
                "final_return": stats(r["final_return"] for r in mine),
                "best_return": stats(r["best_return"] for r in mine),
            }
        out[task.label] = row_of_task
    return out



def numeric(metrics: Any) -> dict[str, float]:
    """The numbers among a function cell's metrics (booleans and text left out)."""
    if not isinstance(metrics, dict):
        return {}
    return {str(k): float(v) for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


def summarise_functions(grid: FunctionGrid, records: Sequence[dict[str, Any]]
                        ) -> dict[str, Any]:
    """`{variant: {"seeds": n, "wall_seconds": s, "cpu_seconds": s, "metrics": {name: s}}}`
    over the grid's recorded cells, each `s` the median [min, max] over seeds (a metric some
    seeds lack is summarised over those that have it)."""
    out: dict[str, Any] = {}
    for variant in grid.variants:
        mine = [r for r in records if r["variant"] == variant.name]
        if not mine:
            continue
        values = [numeric(r["metrics"]) for r in mine]
        names = list(dict.fromkeys(name for row in values for name in row))
        out[variant.name] = {
            "seeds": len(mine),
            "wall_seconds": stats(r["wall_seconds"] for r in mine),
            "cpu_seconds": stats(r["cpu_seconds"] for r in mine),
            "metrics": {name: stats(row.get(name) for row in values) for name in names},
        }
    return out
