"""Matplotlib helpers that work headless (Agg) and write figures atomically."""

import io
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from gmrl.core.checkpoint import atomic_write_bytes


def save_figure(figure: "plt.Figure", path: str | Path, dpi: int = 120) -> Path:
    """Render `figure` to PNG at `path` atomically and close it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


def line_plot(
    path: str | Path,
    x: Sequence[float],
    series: dict[str, Sequence[float]],
    *,
    xlabel: str,
    ylabel: str,
    title: str = "",
    hline: float | None = None,
) -> Path:
    """One or more curves against a shared x axis (learning curves, losses)."""
    figure, axis = plt.subplots(figsize=(6, 4))
    for label, values in series.items():
        axis.plot(list(x)[: len(values)], list(values), label=label)
    if hline is not None:
        axis.axhline(hline, color="grey", linestyle="--", linewidth=1)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    if title:
        axis.set_title(title)
    if len(series) > 1:
        axis.legend()
    axis.grid(alpha=0.3)
    return save_figure(figure, path)
