"""The generated region of docs/BENCHMARKS.md: rewritten alone, idempotently."""

from pathlib import Path

import pytest

from gmrl.bench.docs import END, START, replace_region, update_docs
from gmrl.core.errors import GmrlError

DOC = Path(__file__).resolve().parents[2] / "docs" / "BENCHMARKS.md"
TEXT = "# Benchmarks\n\nIntro text.\n\n| a | b |\n|---|---|\n\n## First section\n\nBody.\n"


def _outside(text: str) -> tuple[str, str]:
    return text[: text.index(START)], text[text.index(END) + len(END):]


def test_markers_are_inserted_after_the_intro_and_rewrite_is_idempotent() -> None:
    once = replace_region(TEXT, "table one")
    assert once.index("| a | b |") < once.index(START) < once.index("## First section")
    assert f"{START}\ntable one\n{END}" in once
    assert replace_region(once, "table one") == once
    twice = replace_region(once, "table two\n")
    assert "table one" not in twice and "table two" in twice
    assert _outside(twice) == _outside(once)
    assert twice.replace(f"{START}\ntable two\n{END}\n\n", "") == TEXT


def test_the_real_document_keeps_every_byte_outside_the_markers() -> None:
    text = DOC.read_text()
    new = replace_region(text, "## generated\n\n| x |\n|---|\n| 1 |")
    if START in text:
        assert _outside(new) == _outside(text)
    assert replace_region(new, "## generated\n\n| x |\n|---|\n| 1 |") == new


def test_update_docs_reports_change_and_refuses_broken_markers(tmp_path: Path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(TEXT)
    assert update_docs(path, "body") is True
    assert update_docs(path, "body") is False
    path.write_text(TEXT + START + "\n")
    with pytest.raises(GmrlError, match="only one of"):
        update_docs(path, "body")
