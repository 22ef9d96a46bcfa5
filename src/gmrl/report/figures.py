"""Learning-curve figures for the report, drawn with matplotlib and returned as PNG bytes.

Metric columns are grouped by the prefix before their first '/' (`losses/...`, `eval/...`,
`tune/...`; a column without one goes to "metrics"): one figure per group, one panel per metric,
every run overlaid in its own colour so several runs compare at a glance.
"""

import io
from collections.abc import Iterable
from dataclasses import dataclass

from matplotlib.artist import Artist
from matplotlib.axes import Axes

from gmrl.core.plots import plt
from gmrl.report.reader import RunData

OTHER_GROUP = "metrics"
SPARSE_POINTS = 40  # fewer points than this: draw markers too (eval columns logged now and then)
COLUMNS = 3


@dataclass(frozen=True)
class Figure:
    """A rendered figure: its group name, the metrics it shows and the PNG bytes."""

    group: str
    metrics: list[str]
    png: bytes


def metric_groups(runs: list[RunData]) -> dict[str, list[str]]:
    """Group name -> metric names, in first-seen column order across the runs."""
    groups: dict[str, list[str]] = {}
    for run in runs:
        for name in run.metrics:
            group = name.split("/", 1)[0] if "/" in name else OTHER_GROUP
            if name not in groups.setdefault(group, []):
                groups[group].append(name)
    return groups


def learning_curves(runs: list[RunData], dpi: int = 90) -> list[Figure]:
    """One figure per metric group, every run that logged a metric overlaid in its panel."""
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    figures = []
    for group, names in metric_groups(runs).items():
        cols = min(COLUMNS, len(names))
        rows = (len(names) + cols - 1) // cols
        figure, axes = plt.subplots(
            rows, cols, figsize=(4.2 * cols, 2.9 * rows), squeeze=False
        )
        for axis, name in zip(axes.flat, names, strict=False):
            for index, run in enumerate(runs):
                series = run.metrics.get(name)
                if series is None:
                    continue
                marker = "o" if len(series.steps) < SPARSE_POINTS else None
                axis.plot(
                    series.steps,
                    series.values,
                    color=colours[index % len(colours)],
                    marker=marker,
                    markersize=3,
                    linewidth=1.2,
                    label=run.label,
                )
            axis.set_title(name, fontsize=9)
            axis.set_xlabel("step", fontsize=8)
            axis.tick_params(labelsize=7)
            axis.grid(alpha=0.3)
        for axis in list(axes.flat)[len(names) :]:
            axis.axis("off")
        if len(runs) > 1:
            handles, labels = _legend_entries(axes.flat)
            figure.legend(handles, labels, loc="upper center", ncol=min(len(labels), 3),
                          fontsize=8, bbox_to_anchor=(0.5, 1.0 + 0.12 / rows))
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(figure)
        figures.append(Figure(group, list(names), buffer.getvalue()))
    return figures


def _legend_entries(axes: Iterable[Axes]) -> tuple[list[Artist], list[str]]:
    """Each run's line once, from whichever panel drew it first."""
    handles: list[Artist] = []
    labels: list[str] = []
    for axis in axes:
        for handle, label in zip(*axis.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    return handles, labels
