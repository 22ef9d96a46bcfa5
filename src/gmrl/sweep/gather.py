"""The sweep's results: one table, mean ± std and n per grid point for every summary figure.

Reads the finished trials' `summary.json` (trials still running or failed are left out; `n`
says how many seeds made it) and writes, in the sweep directory:

- `results.csv`: a row per point: `point`, the grid keys, `n`, then `<figure>_mean`,
  `<figure>_std` and `<figure>_n` for every numeric figure;
- `results.json`: the same, with typed grid values, the plotted metric and the best point;
- `results.md`: a Markdown table, `mean ± std` per cell;
- `plots/<metric>.png`: the chosen metric per point with ± std error bars.

`std` is the sample standard deviation (n - 1), null when only one seed finished.
"""

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gmrl.core.checkpoint import atomic_write_text
from gmrl.core.errors import ConfigError
from gmrl.core.rundir import strict_json
from gmrl.sweep.grid import Point
from gmrl.sweep.spec import TRIALS, SweepSpec, trial_name
from gmrl.sweep.trial import numeric_figures, read_summary


@dataclass(frozen=True)
class Stat:
    """Mean, sample standard deviation (None for one value) and count of one figure."""

    mean: float
    std: float | None
    n: int


@dataclass
class Row:
    """One grid point's finished trials, summarised per figure."""

    point: Point
    n: int
    figures: dict[str, Stat] = field(default_factory=dict)


def describe(values: list[float]) -> Stat:
    """Mean and sample standard deviation of `values` (at least one)."""
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
    return Stat(mean, std, n)


def gather(sweep_dir: Path, spec: SweepSpec) -> list[Row]:
    """A row for every grid point with at least one finished trial, in grid order."""
    rows = []
    for point in spec.points():
        summaries = [
            summary
            for seed in range(spec.seeds)
            if (summary := read_summary(sweep_dir / TRIALS / trial_name(point, seed))) is not None
        ]
        if not summaries:
            continue
        values: dict[str, list[float]] = {}
        for summary in summaries:
            for key, value in numeric_figures(summary).items():
                values.setdefault(key, []).append(value)
        rows.append(Row(point, len(summaries), {k: describe(v) for k, v in values.items()}))
    return rows


def figure_names(rows: list[Row]) -> list[str]:
    """Every figure of every row, in the order first met."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row.figures))
    return list(names)


def choose_metric(rows: list[Row], wanted: str | None) -> str | None:
    """`wanted` (which must be a figure), else the first figure that differs between points.

    A figure every trial shares (e.g. `epochs`) says nothing about the grid, so the default
    prefers one whose mean differs between points, then one that differs between seeds.
    """
    names = figure_names(rows)
    if wanted is not None:
        if wanted not in names:
            raise ConfigError(
                f"--metric '{wanted}' is not a numeric summary figure of this sweep: use one of "
                f"{', '.join(names) or '(none yet)'}"
            )
        return wanted
    stats = {name: [row.figures[name] for row in rows if name in row.figures] for name in names}
    between_points = [name for name in names if len({s.mean for s in stats[name]}) > 1]
    between_seeds = [name for name in names if any(s.std for s in stats[name])]
    return next(iter(between_points + between_seeds + names), None)


def best_row(rows: list[Row], metric: str, mode: str) -> Row | None:
    """The point with the best mean `metric` (`mode` max or min)."""
    scored = [row for row in rows if metric in row.figures]
    if not scored:
        return None
    sign = 1.0 if mode == "max" else -1.0
    return max(scored, key=lambda row: sign * row.figures[metric].mean)


def _cell(value: float | None) -> str:
    return "" if value is None else repr(value)


def _markdown(spec: SweepSpec, rows: list[Row], names: list[str], best: Row | None,
              metric: str | None) -> str:
    def shown(stat: Stat | None, n: int) -> str:
        if stat is None:
            return "—"
        text = f"{stat.mean:.4g}" + (f" ± {stat.std:.2g}" if stat.std is not None else "")
        return text if stat.n == n else f"{text} (n={stat.n})"

    lines = [
        f"# Sweep results: {spec.recipe} ({spec.config})",
        "",
        f"mean ± std (sample, n - 1) over seeds 0..{spec.seeds - 1}; n = finished trials.",
        "",
        "| point | n | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for row in rows:
        cells = [shown(row.figures.get(name), row.n) for name in names]
        lines.append(f"| {row.point.label} | {row.n} | " + " | ".join(cells) + " |")
    if best is not None:
        lines += ["", f"best by {metric} ({spec.mode}): {best.point.label}"]
    return "\n".join(lines) + "\n"


def plot_metric(path: Path, rows: list[Row], metric: str) -> Path:
    """Mean `metric` per point with ± std error bars."""
    from gmrl.core.plots import plt, save_figure

    shown = [row for row in rows if metric in row.figures]
    figure, axis = plt.subplots(figsize=(max(4.0, 0.8 * len(shown) + 2), 4))
    means = [row.figures[metric].mean for row in shown]
    errors = [row.figures[metric].std or 0.0 for row in shown]
    axis.errorbar(range(len(shown)), means, yerr=errors, fmt="o", capsize=4)
    axis.set_xticks(range(len(shown)))
    axis.set_xticklabels([row.point.label for row in shown], rotation=30, ha="right")
    axis.set_ylabel(metric)
    axis.set_title(f"{metric}: mean ± std over seeds")
    axis.grid(alpha=0.3)
    return save_figure(figure, path)


def write_results(
    sweep_dir: Path, spec: SweepSpec, rows: list[Row], metric: str | None
) -> list[Path]:
    """Write results.csv, results.json, results.md and the metric's plot; return the paths."""
    names = figure_names(rows)
    keys = list(spec.grid)
    best = best_row(rows, metric, spec.mode) if metric and spec.mode else None
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["point", *keys, "n"] + [f"{n}_{part}" for n in names
                                               for part in ("mean", "std", "n")])
    for row in rows:
        raw = dict(row.point.values)
        cells: list[Any] = [row.point.label, *(raw[key] for key in keys), row.n]
        for name in names:
            stat = row.figures.get(name)
            cells += [_cell(stat.mean), _cell(stat.std), stat.n] if stat else ["", "", 0]
        writer.writerow(cells)
    written = [sweep_dir / "results.csv", sweep_dir / "results.json", sweep_dir / "results.md"]
    atomic_write_text(written[0], buffer.getvalue())
    document = {
        "recipe": spec.recipe, "config": spec.config, "seeds": spec.seeds, "metric": metric,
        "mode": spec.mode, "best": best.point.label if best else None,
        "points": [
            {"point": row.point.label, "params": row.point.params(), "n": row.n,
             "figures": {k: {"mean": s.mean, "std": s.std, "n": s.n}
                         for k, s in row.figures.items()}}
            for row in rows
        ],
    }
    text = json.dumps(strict_json(document), indent=2, allow_nan=False)
    atomic_write_text(written[1], text + "\n")
    atomic_write_text(written[2], _markdown(spec, rows, names, best, metric))
    if metric is not None and rows:
        safe = re.sub(r"[^A-Za-z0-9._+-]", "_", metric)
        (sweep_dir / "plots").mkdir(exist_ok=True)
        written.append(plot_metric(sweep_dir / "plots" / f"{safe}.png", rows, metric))
    return written
