"""Long work shows progress (issue 24, item 7): parsing a music corpus prints one line per stage
when stderr is a pipe (a bar with ETA in a terminal), then one line of statistics: files read and
skipped, and why, melodies, notes folded or dropped; a cached corpus says so."""

from pathlib import Path

import pytest

from gmrl.music.corpus import load_corpus

ABC = """X:1
T:first
M:4/4
L:1/8
K:G
GABc d2d2|eeee d4|eeee d4|cccc B2B2|AAAA G4|]
"""


@pytest.fixture
def songs(tmp_path: Path) -> Path:
    folder = tmp_path / "songs"
    folder.mkdir()
    (folder / "tune.abc").write_text(ABC)
    (folder / "garbage.mid").write_bytes(b"MThd\x00\x00\x00\x06 definitely not midi")
    return folder


def test_parsing_piped_prints_its_stage_and_the_statistics(
    songs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = load_corpus(str(songs), cache_dir=tmp_path / "cache", progress=True, workers=1)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "parsing folder-songs: 2 files with 1 worker(s)..."
    assert len(lines) == 2, lines
    stats = lines[1]
    assert stats.startswith("corpus folder-songs (parsed in ")
    assert "1 files read, 1 skipped" in stats and f"{len(corpus)} melodies" in stats
    assert "; skipped: garbage.mid: " in stats

    load_corpus(str(songs), cache_dir=tmp_path / "cache", progress=True, workers=1)
    (again,) = capsys.readouterr().err.splitlines()
    assert again.startswith("corpus folder-songs (from the cache): 1 files read, 1 skipped")


def test_no_progress_prints_nothing(
    songs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    load_corpus(str(songs), cache_dir=tmp_path / "cache", progress=False, workers=1)
    assert capsys.readouterr().err == ""
