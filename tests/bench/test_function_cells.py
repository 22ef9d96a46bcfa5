"""Function cells on the harness: a benchmark that is not an agent (a model fit, a recipe run)
declares variants x seeds and one top-level function; the harness runs, records, resumes and
summarises its cells as it does agent cells. Tiny functions here, serial runs only."""

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gmrl.bench.grid import FunctionGrid, Variant
from gmrl.bench.harness import cells_path, main, read_records, run_grid
from gmrl.core.errors import ConfigError


def score(settings: dict[str, Any], seed: int) -> dict[str, Any]:
    """Metrics that depend only on the settings and the seed (plus one drawn number, to show
    that the harness seeded the global generators)."""
    if seed in settings.get("fail_on", []):
        raise ValueError(f"seed {seed} fails on purpose\nsecond line")
    return {"value": 10.0 * seed + settings["offset"], "steps": seed + 1, "note": "text",
            "flag": True, "draw": random.random()}


GRID = FunctionGrid(
    name="tiny_functions",
    function=f"{__name__}:score",
    variants=(Variant("low", {"offset": 1.0}), Variant("high", {"offset": 100.0})),
    seeds=(0, 1, 2),
    show=("value",),
)


def _quiet(text: str) -> None:
    pass


def test_cells_are_recorded_and_summarised_per_variant(tmp_path: Path) -> None:
    out = tmp_path / "tiny.json"
    summary = run_grid(GRID, out, workers=1, report=_quiet)
    records = read_records(cells_path(out))
    assert [r["key"] for r in records] == ["low/seed0", "high/seed0", "low/seed1",
                                           "high/seed1", "low/seed2", "high/seed2"]
    first = records[0]
    assert first["kind"] == "function" and first["variant"] == "low" and first["seed"] == 0
    assert first["metrics"]["value"] == 1.0 and first["metrics"]["note"] == "text"
    assert first["wall_seconds"] >= 0 and first["cpu_seconds"] >= 0
    assert first["machine"]["cpus"] and first["digest"] and first["date"]
    assert first["spec"] == {"function": GRID.function, "variant": "low",
                             "settings": {"offset": 1.0}, "seed": 0}
    random.seed(0)  # the cell ran after seed_everything(0)
    assert first["metrics"]["draw"] == random.random()
    assert json.loads(out.read_text()) == summary
    assert summary["grid"] == {"function": GRID.function, "variants": ["low", "high"],
                               "seeds": [0, 1, 2]}
    assert summary["cells_recorded"] == summary["cells_total"] == 6 and summary["failed"] == {}
    high = summary["summary"]["high"]
    assert high["seeds"] == 3
    assert high["metrics"]["value"] == {"median": 110.0, "min": 100.0, "max": 120.0}
    assert high["metrics"]["steps"] == {"median": 2.0, "min": 1.0, "max": 3.0}
    assert "note" not in high["metrics"] and "flag" not in high["metrics"]  # numbers only
    assert set(high["wall_seconds"]) == {"median", "min", "max"}


def test_a_rerun_skips_recorded_cells_and_reruns_changed_settings(
        tmp_path: Path, count_runs: Callable[[str], list[str]]) -> None:
    out = tmp_path / "tiny.json"
    run_grid(GRID.select(seeds=(0,)), out, workers=1, report=_quiet)
    calls = count_runs("run_function_cell")
    lines: list[str] = []
    summary = run_grid(GRID.select(seeds=(0, 1)), out, workers=1, report=lines.append)
    assert calls == ["low/seed1", "high/seed1"]
    assert lines[0].startswith("tiny_functions: 2 of 4 cells to run (2 already in")
    assert any("low/seed1: value 11, " in line for line in lines)
    assert summary["cells_recorded"] == 4
    calls.clear()
    changed = FunctionGrid(GRID.name, GRID.function,
                           (Variant("low", {"offset": 2.0}), GRID.variants[1]), (0, 1))
    summary = run_grid(changed, out, workers=1, report=_quiet)
    assert calls == ["low/seed0", "low/seed1"]  # a changed setting is a new cell
    assert summary["summary"]["low"]["metrics"]["value"]["median"] == 7.0  # (2 + 12) / 2


def test_a_failed_cell_is_one_line_not_recorded_and_retried(tmp_path: Path) -> None:
    out = tmp_path / "tiny.json"
    grid = FunctionGrid(GRID.name, GRID.function,
                        (Variant("low", {"offset": 1.0, "fail_on": [1]}),), (0, 1))
    lines: list[str] = []
    summary = run_grid(grid, out, workers=1, report=lines.append)
    assert summary["failed"] == {"low/seed1": "seed 1 fails on purpose"}
    assert "  [2/2] low/seed1: failed: seed 1 fails on purpose" in lines
    assert [r["key"] for r in read_records(cells_path(out))] == ["low/seed0"]
    assert summary["summary"]["low"]["seeds"] == 1
    again = run_grid(grid, out, workers=1, report=lines.append)
    assert lines[-1].endswith("failed: seed 1 fails on purpose")  # retried, fails again
    assert again["cells_recorded"] == 1


def test_a_function_that_returns_no_mapping_fails_its_cell(tmp_path: Path) -> None:
    grid = FunctionGrid("bad", "operator:contains", (Variant("v"),), (0,))  # -> False
    summary = run_grid(grid, tmp_path / "bad.json", workers=1, report=_quiet)
    message = "operator:contains returned bool, not a dict of metrics"
    assert summary["failed"] == {"v/seed0": message}


def test_select_takes_names_and_patterns_and_refuses_unknown_ones() -> None:
    grid = FunctionGrid("g", GRID.function, tuple(Variant(n) for n in ("flow/moons", "flow/rings",
                                                                       "gan/moons")), (0,))
    assert [v.name for v in grid.select(["flow/*"]).variants] == ["flow/moons", "flow/rings"]
    assert [v.name for v in grid.select(["gan/moons", "*/rings"]).variants] == ["flow/rings",
                                                                                "gan/moons"]
    with pytest.raises(ConfigError, match=r"no variant 'vae/\*'.*have: flow/moons"):
        grid.select(["vae/*"])


def test_main_gives_function_benchmarks_the_harness_flags(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tiny.json"
    quick = GRID.select(["low"], (0,))
    assert main(GRID, ["--quick", "--workers", "1", "--out", str(out)], quick=quick,
                default_out=out) == 0
    printed = capsys.readouterr().out
    assert "| variant | seeds | value | wall s |" in printed and "| low | 1 | 1 |" in printed
    assert main(GRID, ["--seeds", "2", "--variants", "h*", "--list", "--out", str(out)],
                default_out=out) == 0
    assert capsys.readouterr().out.splitlines() == ["high/seed0: to run", "high/seed1: to run"]
    assert main(GRID, ["--report-only", "--seeds", "1", "--out", str(out),
                       "--variants", "low"], default_out=out) == 0
    assert json.loads(out.read_text())["cells_recorded"] == 1
    with pytest.raises(SystemExit):  # an agent grid's flag
        main(GRID, ["--tasks", "x", "--out", str(out)], default_out=out)
    assert main(GRID, ["--variants", "nope", "--out", str(out)], default_out=out) == 2
