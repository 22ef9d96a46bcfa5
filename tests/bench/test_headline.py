"""docs/BENCHMARKS.md's headline table is exactly what the results JSON it cites gives."""

import json
from pathlib import Path

import pytest

from gmrl.bench import headline
from gmrl.bench.headline import END, ROWS, START, Check, Figure, Row, block, met, render, value
from gmrl.core.errors import GmrlError

ROOT = Path(__file__).resolve().parents[2]


def test_every_headline_figure_in_the_docs_equals_its_json() -> None:
    docs = (ROOT / "docs" / "BENCHMARKS.md").read_text(encoding="utf-8")
    assert block(docs) == render(ROWS, ROOT).strip(), (
        "docs/BENCHMARKS.md's headline table is stale: run python -m gmrl.bench.headline")


def test_every_figure_names_a_file_and_key_that_exist() -> None:
    cache: dict = {}
    for row in ROWS:
        for figure in (*row.gmrl, *row.peer, *(c.figure for c in row.checks)):
            found = value(figure, ROOT, cache)
            assert found is None or isinstance(found, (int, float, str)), (row.name, figure)


def test_the_seqgan_row_quotes_the_rescored_results() -> None:
    table = json.loads((ROOT / "benchmarks/results/seqgan_oracle.json").read_text())["table"]
    line = next(x for x in render(ROWS, ROOT).splitlines() if "SeqGAN on" in x)
    for model in ("seqgan", "mle", "pg_bleu"):
        assert f"{table[model]['nll_oracle']['mean']:.3f}" in line
    for stale in ("8.847", "8.203", "9.057"):
        assert stale not in line


def _row(tmp_path: Path, steps: float | None) -> Row:
    (tmp_path / "r.json").write_text(json.dumps({"a": {"steps": steps}, "peer": 4000}))
    mine, peer = Figure("gmrl", "r.json", ("a", "steps")), Figure("peer", "r.json", ("peer",))
    return Row("x", "x", "half the peer's steps", (mine,), (peer,), "3",
               (Check(mine, "<=", "half", peer, 0.5),), "`cmd`")


@pytest.mark.parametrize(("steps", "verdict", "shown"), [
    (1500, "| met |", "gmrl 1,500"), (3000, "| not met |", "gmrl 3,000"),
    (None, "| not met |", "gmrl never")])
def test_a_verdict_follows_the_figures(tmp_path: Path, steps: float | None, verdict: str,
                                       shown: str) -> None:
    text = render([_row(tmp_path, steps)], tmp_path)
    assert verdict in text and shown in text and "`r.json`" in text


def test_a_missing_key_is_one_line_naming_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text("{}")
    with pytest.raises(GmrlError, match=r"r.json has no a.steps"):
        value(Figure("g", "r.json", ("a", "steps")), tmp_path)
    assert not met(Check(Figure("g", "r.json", ("x",)), "<=", "t", 1.0), tmp_path,
                   {"r.json": {"x": None}})


def test_main_rewrites_only_the_block_and_check_spots_a_stale_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = tmp_path / "B.md"
    doc.write_text(f"# B\n\n{START}\nold 8.847\n{END}\n\n## Kept\n")
    monkeypatch.setattr(headline, "render", lambda: "| new |")
    assert headline.main(["--docs", str(doc), "--check"]) == 1
    assert headline.main(["--docs", str(doc)]) == 0
    assert doc.read_text() == f"# B\n\n{START}\n| new |\n{END}\n\n## Kept\n"
    assert headline.main(["--docs", str(doc), "--check"]) == 0
