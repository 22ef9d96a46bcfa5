"""The results table on synthetic run directories: mean, sample std and n per point, missing and
null figures, the files written and the default metric."""

import csv
import json
import math
from pathlib import Path

import pytest

from gmrl.core.errors import ConfigError
from gmrl.sweep.gather import choose_metric, describe, gather, write_results
from gmrl.sweep.spec import TRIALS, SweepSpec

from .conftest import tiny_spec


def _finish(sweep: Path, name: str, summary: dict[str, object]) -> None:
    folder = sweep / TRIALS / name
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps(summary))


@pytest.fixture
def sweep(tmp_path: Path) -> tuple[Path, SweepSpec]:
    spec = tiny_spec(["model.name=flow,vae,gan"], seeds=3)
    _finish(tmp_path, "model.name-flow-seed0", {"epochs": 2, "mmd": 1.0, "ll": -3.0})
    _finish(tmp_path, "model.name-flow-seed1", {"epochs": 2, "mmd": 2.0, "ll": None})
    _finish(tmp_path, "model.name-flow-seed2", {"epochs": 2, "mmd": 6.0, "ll": -1.0,
                                                "ok": True, "name": "x"})
    _finish(tmp_path, "model.name-vae-seed1", {"epochs": 2, "mmd": 0.5})
    (tmp_path / TRIALS / "model.name-vae-seed2").mkdir()  # started, never finished
    return tmp_path, spec


def test_describe_uses_the_sample_std() -> None:
    stat = describe([1.0, 2.0, 6.0])
    assert stat.mean == 3.0 and stat.n == 3
    assert stat.std is not None and math.isclose(stat.std, math.sqrt(7.0))
    assert describe([4.0]).std is None


def test_gather_counts_finished_trials_per_point(sweep: tuple[Path, SweepSpec]) -> None:
    folder, spec = sweep
    rows = gather(folder, spec)
    assert [row.point.label for row in rows] == ["model.name-flow", "model.name-vae"]
    flow, vae = rows
    assert flow.n == 3 and vae.n == 1
    assert flow.figures["mmd"].mean == 3.0 and math.isclose(flow.figures["mmd"].std or 0,
                                                             math.sqrt(7.0))
    assert flow.figures["ll"].n == 2 and flow.figures["ll"].mean == -2.0  # the null left out
    assert "ok" not in flow.figures and "name" not in flow.figures
    assert vae.figures["mmd"].std is None and "ll" not in vae.figures


def test_default_metric_is_the_first_that_differs_between_points(
    sweep: tuple[Path, SweepSpec],
) -> None:
    rows = gather(*sweep)
    assert choose_metric(rows, None) == "mmd"  # epochs is the same everywhere
    assert choose_metric(rows, "ll") == "ll"
    with pytest.raises(ConfigError, match=r"'loss' is not a numeric summary figure.*mmd"):
        choose_metric(rows, "loss")


def test_written_files(sweep: tuple[Path, SweepSpec]) -> None:
    folder, spec = sweep
    rows = gather(folder, spec)
    written = write_results(folder, spec.model_copy(update={"mode": "min"}), rows, "mmd")
    assert [p.name for p in written] == ["results.csv", "results.json", "results.md", "mmd.png"]
    with (folder / "results.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert [(r["point"], r["model.name"], r["n"]) for r in table] == [
        ("model.name-flow", "flow", "3"), ("model.name-vae", "vae", "1")]
    assert float(table[0]["mmd_mean"]) == 3.0 and table[1]["mmd_std"] == ""
    assert table[1]["ll_n"] == "0"
    document = json.loads((folder / "results.json").read_text())
    assert document["metric"] == "mmd" and document["best"] == "model.name-vae"
    assert document["points"][0]["params"] == {"model.name": "flow"}
    assert document["points"][1]["figures"]["mmd"] == {"mean": 0.5, "std": None, "n": 1}
    markdown = (folder / "results.md").read_text()
    assert "| model.name-flow | 3 | 2 ± 0 | 3 ± 2.6 | -2 ± 1.4 (n=2) |" in markdown
    assert "best by mmd (min): model.name-vae" in markdown
    assert (folder / "plots" / "mmd.png").read_bytes()[:4] == b"\x89PNG"
    write_results(folder, spec, rows, "mmd")  # no --mode: no claim about the best point
    assert json.loads((folder / "results.json").read_text())["best"] is None
    assert "best by" not in (folder / "results.md").read_text()


def test_nothing_finished_writes_an_empty_table(tmp_path: Path) -> None:
    spec = tiny_spec(["epochs=1,2"])
    rows = gather(tmp_path, spec)
    assert rows == [] and choose_metric(rows, None) is None
    written = write_results(tmp_path, spec, rows, None)
    assert len(written) == 3 and json.loads(written[1].read_text())["points"] == []
