"""`gmrl bench all` through the CLI: --list, refusals, and a whole quick run of a fake registry."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gmrl.bench import cli as bench_cli
from gmrl.bench.docs import END, START
from gmrl.bench.registry import BENCHMARKS
from gmrl.cli import app

from .fake import fake_registry, read_json

runner = CliRunner()


def test_list_prints_every_benchmark_without_running_anything(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    monkeypatch.chdir(tmp_path)  # nothing can run from here: there is no benchmarks/ folder
    result = runner.invoke(app, ["bench", "all", "--list"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    for bench in BENCHMARKS:
        assert bench.name in result.output
    assert ("not yet available" in result.output) == any(not b.available for b in BENCHMARKS)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("args", "message"), [
    (["--only", "nope"], "unknown benchmark 'nope'"),
    (["--full", "--update-docs"], "use it with --quick"),
])
def test_bad_arguments_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["bench", "all", *args])
    assert result.exit_code == 2 and message in result.output


def test_quick_run_writes_the_report_and_only_the_docs_region(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    monkeypatch.setattr(bench_cli, "BENCHMARKS", fake_registry(tmp_path))
    monkeypatch.chdir(tmp_path)
    doc = tmp_path / "docs" / "benchmarks" / "quick.md"
    doc.parent.mkdir(parents=True)
    before = f"# Benchmarks\n\nIntro.\n\n{START}\nold\n{END}\n\n## Curated\n\nKept.\n"
    doc.write_text(before)
    result = runner.invoke(app, ["bench", "all", "--quick"])
    assert result.exit_code == 1, result.output  # two fake benchmarks fail on purpose
    assert "failed: bad, silent" in result.output
    record = read_json(tmp_path / "benchmarks/results/quick/bench_all.json")
    assert record["command"] == "gmrl bench all --quick"
    text = doc.read_text()
    assert text.startswith("# Benchmarks\n\nIntro.\n\n" + START)
    assert text.endswith(END + "\n\n## Curated\n\nKept.\n")
    region = text[text.index(START):text.index(END)]
    assert "old" not in region and "| 7 | done |" in region and "CPUs" in region


def test_a_run_with_only_keeps_the_other_benchmarks_earlier_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench_cli, "BENCHMARKS", fake_registry(tmp_path))
    monkeypatch.chdir(tmp_path)
    runner.invoke(app, ["bench", "all", "--quick", "--no-update-docs"])
    path = tmp_path / "benchmarks/results/quick/bench_all.json"
    first = read_json(path)
    result = runner.invoke(app, ["bench", "all", "--quick", "--only", "good"])
    assert result.exit_code == 0, result.output  # only the rerun benchmark decides the exit
    record = read_json(path)
    assert [b["name"] for b in record["benchmarks"]] == [b["name"] for b in first["benchmarks"]]
    old = {b["name"]: b for b in first["benchmarks"]}
    new = {b["name"]: b for b in record["benchmarks"]}
    assert new["bad"] == old["bad"] and new["silent"] == old["silent"]
    assert record["kept_from"] == f"{first['date']}, `gmrl bench all --quick`"
    assert record["command"] == "gmrl bench all --quick --only good"
    text = (tmp_path / "benchmarks/results/quick/bench_all.md").read_text()
    assert "keep the results of the run of" in text and "| 7 | done |" in text
    # results of another mode are never mixed in
    runner.invoke(app, ["bench", "all", "--full", "--only", "good"])
    full = read_json(tmp_path / "benchmarks/results/full/bench_all.json")
    assert [b["name"] for b in full["benchmarks"]] == ["good"] and "kept_from" not in full
