"""Melody corpora: user folders with bad files, the NPZ cache, Bach sopranos, windows, splits."""

from pathlib import Path

import numpy as np
import pytest
from music21 import meter, note, stream

from gmrl.music import parsing
from gmrl.music.corpus import CorpusError, CorpusStats, MelodyCorpus, load_corpus
from gmrl.music.encoding import FIRST_NOTE, NO_EVENT, NOTE_OFF, Note, notes_to_events
from gmrl.music.encoding import pitch_to_event as on
from gmrl.music.midi import events_to_midi

C_MAJOR = {0, 2, 4, 5, 7, 9, 11}
# G major: G B D G, down the scale with F sharp to G, D G
G_MAJOR_TUNE = [67, 71, 74, 79, 78, 76, 74, 72, 71, 69, 66, 67, 62, 67]

ABC = """X:1
T:first
M:4/4
L:1/8
K:G
GABc d2d2|eeee d4|eeee d4|cccc B2B2|AAAA G4|]

X:2
T:second
M:3/4
L:1/4
K:C
G|c2B|c3|]
"""


def _musicxml(path: Path) -> Path:
    """A small G major melody written by music21 as MusicXML."""
    part = stream.Part()
    part.append(meter.TimeSignature("4/4"))
    for pitch in G_MAJOR_TUNE:
        part.append(note.Note(pitch, quarterLength=1.0))
    score = stream.Score([part])
    score.write("musicxml", fp=str(path))
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    songs = tmp_path / "songs"
    songs.mkdir()
    good = _musicxml(songs / "good.musicxml")
    (songs / "garbage.mid").write_bytes(b"MThd\x00\x00\x00\x06 definitely not midi")
    text = good.read_text()
    (songs / "truncated.xml").write_text(text[: len(text) // 2])
    (songs / "notes.txt").write_text("not a score, and ignored")
    return songs


def test_folder_with_bad_files_loads_the_good_one_and_counts_the_skipped(
    folder: Path, tmp_path: Path
) -> None:
    corpus = load_corpus(str(folder), cache_dir=tmp_path / "cache", progress=False, workers=1)
    assert len(corpus) == 1 and corpus.names == ["good.musicxml"]
    assert corpus.stats.files_parsed == 1 and corpus.stats.files_skipped == 2
    assert sorted(s.split(":")[0] for s in corpus.stats.skipped) == ["garbage.mid", "truncated.xml"]
    # transposed from G major to C major (down a fifth), quarter notes
    expected = notes_to_events([Note(p - 7, 4 * i, 4 * i + 4) for i, p in enumerate(G_MAJOR_TUNE)])
    assert np.array_equal(corpus.melodies[0], expected)


def test_no_transposition_keeps_pitches(folder: Path, tmp_path: Path) -> None:
    corpus = load_corpus(
        str(folder), transpose=False, cache_dir=tmp_path, progress=False, workers=1
    )
    pitches = [e + 46 for e in corpus.melodies[0].tolist() if e >= FIRST_NOTE]
    assert pitches == G_MAJOR_TUNE


def test_second_load_hits_the_cache_and_a_corrupt_cache_is_rebuilt(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    first = load_corpus(str(folder), cache_dir=cache, progress=False, workers=1)
    files = list(cache.glob("*.npz"))
    assert len(files) == 1 and files[0].name.startswith("folder-songs-")

    def no_parsing(*args: object) -> None:
        raise AssertionError("the cache should have been used")

    with monkeypatch.context() as patch:
        patch.setattr(parsing, "parse_unit", no_parsing)
        cached = load_corpus(str(folder), cache_dir=cache, progress=False, workers=1)
    assert cached.names == first.names and np.array_equal(cached.melodies[0], first.melodies[0])
    assert cached.stats.files_skipped == 2

    files[0].write_bytes(b"PK\x03\x04 not an npz any more")
    rebuilt = load_corpus(str(folder), cache_dir=cache, progress=False, workers=1)
    assert np.array_equal(rebuilt.melodies[0], first.melodies[0])
    with np.load(files[0], allow_pickle=False) as data:  # rewritten as a valid NPZ
        assert int(data["lengths"][0]) == len(first.melodies[0])

    # a changed setting or a changed file is a different cache entry
    load_corpus(str(folder), cache_dir=cache, progress=False, workers=1, out_of_range="drop")
    assert len(list(cache.glob("*.npz"))) == 2


def test_multi_tune_abc_and_midi_files_with_a_process_pool(tmp_path: Path) -> None:
    songs = tmp_path / "abc"
    songs.mkdir()
    (songs / "two_tunes.abc").write_text(ABC)
    melody = notes_to_events([Note(60 + 2 * i, 2 * i, 2 * i + 2) for i in range(5)], 12)
    events_to_midi(melody, songs / "scale.mid")
    events_to_midi(melody, songs / "zz_same_scale.mid")  # an exact duplicate is dropped
    corpus = load_corpus(str(songs), cache_dir=tmp_path / "c", progress=False, workers=2)
    assert corpus.names == ["scale.mid", "two_tunes.abc#1", "two_tunes.abc#2"]
    assert corpus.stats.files_parsed == 3 and corpus.stats.files_skipped == 0
    assert corpus.stats.duplicates_dropped == 1 and corpus.stats.melodies == 3
    # the MIDI melody (C major already) is unchanged, up to its last note
    assert np.array_equal(corpus.melodies[0], melody[:10])
    # tune 1 (G major, eighths) starts on the tonic once in C major
    assert corpus.melodies[1][0] == on(60) and corpus.melodies[1][1] == NO_EVENT
    # tune 2 (3/4, a one-beat pickup) is padded so that its first bar line falls on step 12
    assert corpus.melodies[2][:8].tolist() == [NO_EVENT] * 8
    assert corpus.melodies[2][8] >= FIRST_NOTE and corpus.melodies[2][12] >= FIRST_NOTE


def test_bad_sources_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="neither one of bach, essen, bach\\+essen nor a folder"):
        load_corpus("mozart", cache_dir=tmp_path)
    with pytest.raises(CorpusError, match=r"corpus folder .* does not exist: give a folder"):
        load_corpus(str(tmp_path / "gone"), cache_dir=tmp_path)
    (tmp_path / "afile.mid").write_bytes(b"")
    with pytest.raises(CorpusError, match="is a file, not a folder"):
        load_corpus(str(tmp_path / "afile.mid"), cache_dir=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="holds no"):
        load_corpus(str(tmp_path / "empty"), cache_dir=tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.mid").write_bytes(b"garbage")
    with pytest.raises(CorpusError, match="no melody could be read") as info:
        load_corpus(str(bad), cache_dir=tmp_path, progress=False, workers=1)
    assert "\n" not in str(info.value)


def test_bach_soprano_lines_in_c(tmp_path: Path) -> None:
    corpus = load_corpus("bach", max_files=5, cache_dir=tmp_path, progress=False, workers=1)
    assert len(corpus) == 5 and corpus.stats.files_skipped == 0
    assert corpus.names[0] == "bach/bwv269"
    events = np.concatenate(corpus.melodies)
    pitches = events[events >= FIRST_NOTE] + 46
    in_key = np.isin(pitches % 12, list(C_MAJOR)).mean()
    assert in_key > 0.9, in_key
    windows = corpus.windows()
    assert windows.shape[1] == 32 and windows.shape[0] >= 40 and windows.dtype == np.int64
    assert ((windows >= FIRST_NOTE).sum(axis=1) >= 4).all()
    assert not (windows[:, 0] == NOTE_OFF).any()


def test_key_estimate_and_transposition() -> None:
    g_major = [(4.0 * i, 4.0 * i + 4, p) for i, p in enumerate(G_MAJOR_TUNE)]
    assert parsing.estimate_key(g_major) == (7, "major")
    assert parsing.transposition(g_major) == -7
    a_minor_in_e = [(2.0 * i, 2.0 * i + 2, p) for i, p in enumerate([64, 66, 67, 69, 71, 67, 64])]
    assert parsing.estimate_key(a_minor_in_e) == (4, "minor")
    assert parsing.transposition(a_minor_in_e) in (5, -7)  # E minor -> A minor


def _corpus(melodies: list[list[int]]) -> MelodyCorpus:
    arrays = [np.array(m, dtype=np.int64) for m in melodies]
    return MelodyCorpus(arrays, [f"m{i}" for i in range(len(arrays))], CorpusStats(), "test")


def test_windows_restart_held_notes_pad_short_melodies_and_skip_silence() -> None:
    held = [on(60)] + [NO_EVENT] * 19 + [on(62), on(64), on(65), on(67)] + [NO_EVENT] * 24
    short = [on(60), on(62), on(64), on(65), NO_EVENT]
    silent = [on(60)] + [NOTE_OFF] + [NO_EVENT] * 30
    corpus = _corpus([held, short, silent])
    windows = corpus.windows(length=32, stride=16)
    # held: windows at 0 and 16 (the second starts inside the held C: re-struck); silent: skipped
    assert windows.shape == (3, 32)
    assert windows[0].tolist() == held[:32]
    assert windows[1][0] == on(60) and windows[1][1:].tolist() == held[17:48]
    assert windows[2].tolist() == short + [NOTE_OFF] + [NO_EVENT] * 26
    assert corpus.windows(min_notes=1).shape[0] == 4


def test_split_is_by_melody_and_reproducible() -> None:
    corpus = _corpus([[on(60 + i)] * 8 for i in range(20)])
    train, test = corpus.split(0.25, seed=3)
    assert len(test) == 5 and len(train) == 15
    assert set(train.names).isdisjoint(test.names)
    assert set(train.names) | set(test.names) == set(corpus.names)
    _, again_test = corpus.split(0.25, seed=3)
    assert again_test.names == test.names
    assert corpus.split(0.25, seed=4)[1].names != test.names


def test_abc_file_header_fields_apply_to_every_tune() -> None:
    text = "%abc-2.1\nL:1/8\n\nX:3\nT:a\nK:C\nCD|]\n\nX:4\nK:G\nGA|]\n"
    tunes = parsing.abc_tunes(text)
    assert [t.splitlines()[:2] for t in tunes] == [["L:1/8", "X:3"], ["L:1/8", "X:4"]]
    assert parsing.abc_tunes("no tunes here") == ["no tunes here"]
