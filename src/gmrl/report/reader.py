"""Read what a run directory holds (config, metrics, summary, figures) into plain Python values.

Reading is separate from rendering so that the report's content can be tested without HTML or
matplotlib, and so that every problem with an input folder is found, as one `ReportError` line,
before anything is drawn or written.
"""

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gmrl.core.config import read_yaml_mapping
from gmrl.core.errors import GmrlError
from gmrl.report.audio import Clip, find_clips
from gmrl.report.files import Asset, run_files

MAX_IMAGES = 24  # per run: a run that wrote hundreds of PNGs should not make a 100 MB page
MAX_IMAGE_BYTES = 5 * 2**20


class ReportError(GmrlError):
    """A path that is not a readable run directory, or an output that cannot be written."""


@dataclass(frozen=True)
class Series:
    """One metric of one run: the steps where it was logged and its values there."""

    steps: list[float]
    values: list[float]


@dataclass
class RunData:
    """Everything the report shows about one run directory."""

    path: Path
    label: str
    config_text: str
    config: dict[str, Any]
    metrics: dict[str, Series] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    images: list[Asset] = field(default_factory=list)
    clips: list[Clip] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def recipe(self) -> str:
        name = self.config.get("recipe")
        return name if isinstance(name, str) else "?"

    @property
    def last_step(self) -> int | None:
        steps = [s.steps[-1] for s in self.metrics.values() if s.steps]
        return int(max(steps)) if steps else None


def read_run(path: str | Path, label: str | None = None) -> RunData:
    """Read one run directory; a path that is not one is a one-line `ReportError`."""
    path = Path(path)
    if not path.exists():
        raise ReportError(f"run directory '{path}' not found: check the path")
    if not path.is_dir():
        raise ReportError(f"'{path}' is a file, not a run directory: give the run's folder")
    config_file = path / "config.yaml"
    if not config_file.is_file():
        raise ReportError(
            f"'{path}' is not a gmrl run directory (no config.yaml): give a folder made by "
            "gmrl run (e.g. runs/<recipe>-<timestamp>)"
        )
    config = read_yaml_mapping(config_file)
    run = RunData(
        path=path,
        label=label or path.resolve().name,
        config_text=_read_text(config_file),
        config=config,
        metrics=read_metrics(path / "metrics.csv"),
        summary=read_summary(path / "summary.json"),
    )
    if not (path / "metrics.csv").is_file():
        run.notes.append("no metrics.csv: nothing was logged")
    if not (path / "summary.json").is_file():
        run.notes.append("no summary.json: the run did not finish")
    run.images, skipped = find_images(path)
    if skipped:
        run.notes.append(skipped)
    run.clips, skipped = find_clips(path)
    if skipped:
        run.notes.append(skipped)
    return run


def _read_text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ReportError(f"{file}: not a UTF-8 text file") from exc
    except OSError as exc:
        raise ReportError(f"{file} cannot be read ({exc.strerror}): check it") from exc


def read_metrics(file: Path) -> dict[str, Series]:
    """Numeric columns of `metrics.csv` against `step`; empty cells (not logged) are skipped.

    A column holding text that is not a number is left out; NaN and infinite values are kept out
    of the curves too (matplotlib would break the line there anyway).
    """
    if not file.is_file():
        return {}
    text = _read_text(file)
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        return {}
    header, body = rows[0], rows[1:]
    if "step" not in header:
        raise ReportError(f"{file} has no 'step' column: it was not written by gmrl run")
    step_at = header.index("step")
    out: dict[str, Series] = {}
    for column, name in enumerate(header):
        if column == step_at or not name:
            continue
        steps: list[float] = []
        values: list[float] = []
        numeric = True
        for line, row in enumerate(body, start=2):
            cell = row[column].strip() if column < len(row) else ""
            if not cell:
                continue
            try:
                value = float(cell)
            except ValueError:
                numeric = False
                break
            try:
                step = float(row[step_at])
            except (ValueError, IndexError):
                raise ReportError(f"{file}, line {line}: step is not a number") from None
            if math.isfinite(value):
                steps.append(step)
                values.append(value)
        if numeric and values:
            out[name] = Series(steps, values)
    return out


def read_summary(file: Path) -> dict[str, Any]:
    """`summary.json` as a flat mapping (nested keys joined with '/'); {} when absent."""
    if not file.is_file():
        return {}
    try:
        data = json.loads(_read_text(file))
    except json.JSONDecodeError as exc:
        raise ReportError(
            f"{file} is not valid JSON (line {exc.lineno}): rerun or delete it"
        ) from exc
    if not isinstance(data, dict):
        raise ReportError(f"{file} must hold a JSON object, got {type(data).__name__}")
    return flatten(data, "/")


def flatten(mapping: dict[str, Any], sep: str = ".", prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one level, keys joined with `sep` (lists stay values)."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{sep}{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out.update(flatten(value, sep, name))
        else:
            out[name] = value
    return out


def find_images(path: Path) -> tuple[list[Asset], str]:
    """The run's PNG figures (plots/ first), and a note on any left out for size."""
    files = run_files(path, (".png",))
    files.sort(key=lambda f: (f.relative_to(path).parts[0] != "plots", str(f)))
    images: list[Asset] = []
    too_big = []
    for file in files:
        if file.stat().st_size > MAX_IMAGE_BYTES:
            too_big.append(file.name)
            continue
        if len(images) < MAX_IMAGES:
            images.append(Asset(file.relative_to(path).as_posix(), file.read_bytes()))
    left_out = len(files) - len(images) - len(too_big)
    notes = []
    if left_out:
        notes.append(f"{left_out} more PNG files not shown (at most {MAX_IMAGES} per run)")
    if too_big:
        notes.append(f"left out as larger than 5 MiB: {', '.join(too_big)}")
    return images, "; ".join(notes)
