"""HTML tables of the report: runs overview, summary figures side by side, config differences.

Every cell goes through `html.escape`: run names, config values and summary keys come from files
on disk and must never be read as markup.
"""

import json
import math
from html import escape
from typing import Any

from gmrl.report.reader import RunData, flatten

MISSING = "—"


def format_value(value: Any) -> str:
    """A summary or config value as short text: floats to 4 significant digits."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _table(header: list[str], rows: list[list[str]], css: str) -> str:
    """A table from already-escaped cells (the first column as row headers)."""
    head = "".join(f"<th>{cell}</th>" for cell in header)
    body = "".join(
        "<tr>" + f"<th>{row[0]}</th>" + "".join(f"<td>{c}</td>" for c in row[1:]) + "</tr>"
        for row in rows
    )
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def overview_table(runs: list[RunData]) -> str:
    """One row per run: name, recipe, seed, last logged step, metric count and folder."""
    rows = [
        [
            escape(run.label),
            escape(run.recipe),
            escape(format_value(run.config.get("seed", MISSING))),
            escape(str(run.last_step) if run.last_step is not None else MISSING),
            str(len(run.metrics)),
            f"<code>{escape(str(run.path))}</code>",
        ]
        for run in runs
    ]
    return _table(
        ["run", "recipe", "seed", "last step", "metrics", "folder"], rows, "overview"
    )


def summary_table(runs: list[RunData]) -> str:
    """summary.json figures, one row per key and one column per run (— where a run lacks it)."""
    keys: list[str] = []
    for run in runs:
        keys.extend(k for k in run.summary if k not in keys)
    if not keys:
        return '<p class="note">No run has a summary.json.</p>'
    rows = [
        [escape(key)]
        + [
            escape(format_value(run.summary[key])) if key in run.summary else MISSING
            for run in runs
        ]
        for key in sorted(keys)
    ]
    return _table(["figure", *(escape(run.label) for run in runs)], rows, "summary")


def config_differences(runs: list[RunData]) -> str:
    """Config keys (dotted) whose values differ between the runs; a line when none do."""
    if len(runs) < 2:
        return '<p class="note">One run: its full config is below.</p>'
    flat = [flatten(run.config) for run in runs]
    keys: list[str] = []
    for config in flat:
        keys.extend(k for k in config if k not in keys)
    differing = [
        key
        for key in keys
        if len({json.dumps(config.get(key, MISSING), sort_keys=True) for config in flat}) > 1
    ]
    if not differing:
        return '<p class="note">The runs\' configs are identical.</p>'
    rows = [
        [f"<code>{escape(key)}</code>"]
        + [
            escape(format_value(config[key])) if key in config else MISSING
            for config in flat
        ]
        for key in differing
    ]
    return _table(["config key", *(escape(run.label) for run in runs)], rows, "configdiff")
