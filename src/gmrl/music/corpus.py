"""Melody corpora: Bach chorale sopranos, Essen folk songs or a user's folder, cached as NPZ.

`load_corpus(source)` returns a `MelodyCorpus` of variable-length RL Tuner event arrays (one per
melody). Sources: "bach" (the soprano line of music21's 371 numbered chorales), "essen" (every
tune of music21's bundled Essen folk-song ABC files), "bach+essen", or a folder searched
recursively for .mid/.midi/.xml/.mxl/.musicxml/.abc files. All metres are kept: the 16th grid
does not depend on the metre.

Parsing is slow, so the result is cached once as an NPZ (no pickles) under `cache_dir` (default
`$GMRL_CACHE/music`, else `~/.cache/gmrl/music`), named by a hash of the source, the settings,
gmrl's encoding version and the file list (names and sizes; modification times too for a user
folder), written atomically. A cache file that cannot be read is rebuilt, not fatal. Unreadable
files are skipped and counted in `stats`. Files are parsed by a small process pool.
"""

import hashlib
import importlib.util
import io
import json
import logging
import multiprocessing
import os
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from gmrl.core.checkpoint import atomic_write_bytes
from gmrl.core.errors import GmrlError
from gmrl.core.progress import make_progress, plain_status, status_line
from gmrl.core.seeding import numpy_rng
from gmrl.music import parsing
from gmrl.music.encoding import (
    COMPOSITION_STEPS,
    ENCODING_VERSION,
    FIRST_NOTE,
    NO_EVENT,
    NOTE_OFF,
    OutOfRange,
)

log = logging.getLogger(__name__)

SOURCES = ("bach", "essen", "bach+essen")
_MAX_LISTED_SKIPS = 20


class CorpusError(GmrlError):
    """A corpus source that does not exist or holds no readable melody."""


@dataclass
class CorpusStats:
    """What building a corpus read, skipped and changed (summed over files)."""

    files_parsed: int = 0
    files_skipped: int = 0
    tunes_skipped: int = 0
    melodies: int = 0
    empty_melodies: int = 0
    notes: int = 0
    notes_folded: int = 0
    notes_dropped_range: int = 0
    notes_dropped_overlap: int = 0
    notes_dropped_short: int = 0
    duplicates_dropped: int = 0
    parse_seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)  # "file: reason", the first few

    def add(self, other: "CorpusStats") -> None:
        for item in fields(self):
            if item.name == "skipped":
                self.skipped = (self.skipped + other.skipped)[:_MAX_LISTED_SKIPS]
            else:
                setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def describe(self, label: str, *, cached: bool = False) -> str:
        """One line of what building the corpus read and skipped, and why (the first reasons)."""
        how = "from the cache" if cached else f"parsed in {self.parse_seconds:.1f} s"
        line = (f"corpus {label} ({how}): {self.files_parsed:,} files read, "
                f"{self.files_skipped:,} skipped, {self.tunes_skipped:,} tunes unreadable, "
                f"{self.empty_melodies:,} without notes; {self.melodies:,} melodies "
                f"({self.duplicates_dropped:,} duplicates dropped), {self.notes:,} notes "
                f"({self.notes_folded:,} folded into range, {self.notes_dropped_range:,} out of "
                f"range, {self.notes_dropped_overlap:,} overlapping and "
                f"{self.notes_dropped_short:,} too short dropped)")
        if self.skipped:
            line += f"; skipped: {'; '.join(self.skipped[:3])}"
            if self.files_skipped > 3:
                line += f" (and {self.files_skipped - 3:,} more)"
        return line


@dataclass
class MelodyCorpus:
    """Encoded melodies (int64 event arrays of varying length) with their names and stats."""

    melodies: list[np.ndarray]
    names: list[str]
    stats: CorpusStats
    source: str = ""

    def __len__(self) -> int:
        return len(self.melodies)

    def windows(
        self, length: int = COMPOSITION_STEPS, stride: int = 16, *, min_notes: int = 4
    ) -> np.ndarray:
        """Training compositions: (N, length) int64 windows cut every `stride` steps.

        A window that starts inside a held note starts with that note's note-on (RL Tuner's
        compositions start from a note, not from a dangling hold); a melody shorter than
        `length` gives one window padded with a rest. Windows with fewer than `min_notes`
        note-ons (mostly silence) are skipped.
        """
        if length < 1 or stride < 1:
            raise ValueError(f"length and stride must be >= 1, got {length} and {stride}")
        out: list[np.ndarray] = []
        for melody in self.melodies:
            sounding = _sounding_note(melody)
            last = max(len(melody) - length, 0)
            for start in range(0, last + 1, stride):
                window = _pad(melody[start : start + length], length, bool(sounding[-1]))
                if window[0] == NOTE_OFF:
                    window[0] = NO_EVENT
                elif window[0] == NO_EVENT and start > 0 and sounding[start]:
                    window[0] = sounding[start]
                if int((window >= FIRST_NOTE).sum()) >= min_notes:
                    out.append(window)
        if not out:
            return np.zeros((0, length), dtype=np.int64)
        return np.stack(out)

    def split(self, test_fraction: float, seed: int) -> tuple["MelodyCorpus", "MelodyCorpus"]:
        """(train, test) split by melody (never by window), reproducible from `seed`."""
        if not 0.0 <= test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
        order = numpy_rng(seed, "music_corpus_split").permutation(len(self))
        n_test = round(test_fraction * len(self))
        if test_fraction > 0 and len(self) > 1:
            n_test = min(max(n_test, 1), len(self) - 1)
        test_ids = set(order[:n_test].tolist())

        def subset(keep: bool) -> "MelodyCorpus":
            ids = [i for i in range(len(self)) if (i in test_ids) != keep]
            return MelodyCorpus(
                [self.melodies[i] for i in ids],
                [self.names[i] for i in ids],
                self.stats,
                self.source,
            )

        return subset(True), subset(False)

    @classmethod
    def concat(cls, corpora: Sequence["MelodyCorpus"]) -> "MelodyCorpus":
        stats = CorpusStats()
        for corpus in corpora:
            stats.add(corpus.stats)
        return cls(
            [m for c in corpora for m in c.melodies],
            [n for c in corpora for n in c.names],
            stats,
            "+".join(c.source for c in corpora),
        )


def _sounding_note(melody: np.ndarray) -> np.ndarray:
    """For each step, the note-on event of the note sounding there (0 during a rest)."""
    if len(melody) == 0:
        return np.zeros(1, dtype=np.int64)
    changes = np.where(melody != NO_EVENT, np.arange(len(melody)), -1)
    last_change = np.maximum.accumulate(changes)
    sounding = np.where(last_change >= 0, melody[np.maximum(last_change, 0)], 0)
    return np.where(sounding >= FIRST_NOTE, sounding, 0)


def _pad(window: np.ndarray, length: int, sounding_at_end: bool) -> np.ndarray:
    window = np.asarray(window, dtype=np.int64).copy()
    if len(window) >= length:
        return window
    pad = np.full(length - len(window), NO_EVENT, dtype=np.int64)
    if sounding_at_end:
        pad[0] = NOTE_OFF
    return np.concatenate([window, pad])


# ---------------------------------------------------------------- sources and cache


def default_cache_dir() -> Path:
    root = os.environ.get("GMRL_CACHE")
    return Path(root) / "music" if root else Path.home() / ".cache" / "gmrl" / "music"


def music21_corpus_dir() -> Path:
    """music21's bundled corpus folder, found without importing music21 (seconds)."""
    spec = importlib.util.find_spec("music21")
    if spec is None or not spec.submodule_search_locations:
        raise CorpusError("music21 is not installed; pip install music21 (it ships the corpus)")
    return Path(next(iter(spec.submodule_search_locations))) / "corpus"


def source_files(source: str) -> tuple[str, list[tuple[Path, str]]]:
    """(label, [(path, melody name)]) for a named corpus or a folder; one-line error otherwise."""
    if source == "bach":
        from music21 import corpus
        from music21.corpus import chorales

        root = music21_corpus_dir()
        files: list[tuple[Path, str]] = []
        for name in chorales.Iterator(returnType="filename"):
            path = root / f"{name}.mxl"  # getWork() finds the same file, 50x slower
            if not path.is_file():
                work = corpus.getWork(name)
                path = Path(work[0] if isinstance(work, list) else work)
            files.append((path, str(name)))
        return "bach", files
    if source == "essen":
        folder = music21_corpus_dir() / "essenFolksong"
        return "essen", [(p, f"essen/{p.stem}") for p in sorted(folder.glob("*.abc"))]
    folder = Path(source).expanduser()
    if not folder.is_dir() and (folder.exists() or _looks_like_path(source)):
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise CorpusError(
            f"corpus folder {source!r} {what}: give a folder of MIDI/MusicXML/ABC files, "
            f"or one of {', '.join(SOURCES)}"
        )
    if not folder.is_dir():
        raise CorpusError(
            f"corpus source {source!r} is neither one of {', '.join(SOURCES)} nor a folder; "
            "pass a corpus name or a folder of MIDI/MusicXML/ABC files"
        )
    found = sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in parsing.SUFFIXES
    )
    if not found:
        raise CorpusError(
            f"folder {folder} holds no {'/'.join(parsing.SUFFIXES)} files; "
            "add melodies or pick another folder"
        )
    return f"folder-{folder.resolve().name}", [(p, str(p.relative_to(folder))) for p in found]


def _looks_like_path(source: str) -> bool:
    """A source written as a path (a separator, ~ or a leading dot), not a corpus name."""
    return "/" in source or os.sep in source or source.startswith(("~", "."))


def cache_key(
    source: str, files: list[tuple[Path, str]], transpose: bool, out_of_range: str, user: bool
) -> str:
    """Hash of everything the cached arrays depend on."""
    entries = []
    for path, name in files:
        stat = path.stat()
        entries.append([name, stat.st_size] + ([stat.st_mtime_ns] if user else []))
    payload = {
        "source": source,
        "transpose": transpose,
        "out_of_range": out_of_range,
        "encoding_version": ENCODING_VERSION,
        "files": entries,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _save_cache(path: Path, key: str, corpus: MelodyCorpus) -> None:
    lengths = np.array([len(m) for m in corpus.melodies], dtype=np.int64)
    events = (
        np.concatenate(corpus.melodies).astype(np.int8) if corpus.melodies else np.zeros(0, np.int8)
    )
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        key=np.array(key),
        events=events,
        lengths=lengths,
        names=np.array(corpus.names, dtype=str),
        stats=np.array(json.dumps(corpus.stats.as_dict())),
    )
    atomic_write_bytes(path, buffer.getvalue())


def _load_cache(path: Path, key: str, source: str) -> MelodyCorpus | None:
    """The cached corpus, or None (with a warning) if the file is missing, stale or corrupt."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["key"]) != key:
                raise ValueError("cache key mismatch")
            lengths = data["lengths"].astype(np.int64)
            events = data["events"].astype(np.int64)
            names = [str(n) for n in data["names"]]
            stats = CorpusStats(**json.loads(str(data["stats"])))
        if int(lengths.sum()) != len(events) or len(names) != len(lengths):
            raise ValueError("array sizes disagree")
        melodies = np.split(events, np.cumsum(lengths)[:-1]) if len(lengths) else []
        return MelodyCorpus(list(melodies), names, stats, source)
    except Exception as exc:  # any unreadable cache is rebuilt
        log.warning("corpus cache %s is unreadable (%s); rebuilding it", path, exc)
        return None


def _parse(
    label: str,
    files: list[tuple[Path, str]],
    *,
    transpose: bool,
    out_of_range: OutOfRange,
    workers: int,
    progress: bool,
) -> MelodyCorpus:
    started = time.perf_counter()
    results: dict[int, parsing.UnitResult] = {}
    jobs = [(str(path), name, transpose, out_of_range) for path, name in files]
    pool: ProcessPoolExecutor | None = None
    futures: dict[Future[parsing.UnitResult], int] = {}
    if workers > 1 and len(jobs) > 1:
        # Forked (where the platform allows) before the progress bar starts its refresh thread;
        # fork, unlike spawn, does not re-run a user's script that lacks a __main__ guard.
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        pool = ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context)
        # largest files first, so that the pool does not end waiting on one big file
        order = sorted(range(len(jobs)), key=lambda i: -files[i][0].stat().st_size)
        futures = {pool.submit(parsing.parse_unit, *jobs[i]): i for i in order}
    plain_status(f"parsing {label}: {len(jobs):,} files with {max(1, min(workers, len(jobs)))} "
                 "worker(s)...", quiet=not progress)  # piped: one line per stage
    try:
        with make_progress(quiet=not progress) as bar:
            task = bar.add_task(f"parsing {label}", total=len(jobs), info="")
            n_melodies = 0

            def record(index: int, result: parsing.UnitResult) -> None:
                nonlocal n_melodies
                results[index] = result
                n_melodies += len(result.names)
                bar.update(task, advance=1, info=f"{n_melodies} melodies")

            if pool is None:
                for index, job in enumerate(jobs):
                    record(index, parsing.parse_unit(*job))
            for future in as_completed(futures):
                try:
                    record(futures[future], future.result())
                except BrokenProcessPool:
                    raise CorpusError(
                        f"a parser process died while reading {label} (out of memory?); "
                        "retry with workers=1"
                    ) from None
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    stats = CorpusStats()
    melodies: list[np.ndarray] = []
    names: list[str] = []
    for index in range(len(jobs)):
        result = results[index]
        if result.error is not None or not result.names:
            stats.files_skipped += 1
            reason = result.error or "no notes"
            if len(stats.skipped) < _MAX_LISTED_SKIPS:
                stats.skipped.append(f"{files[index][1]}: {reason}")
            stats.tunes_skipped += result.tunes_skipped
            stats.empty_melodies += result.empty
            continue
        stats.files_parsed += 1
        stats.tunes_skipped += result.tunes_skipped
        stats.empty_melodies += result.empty
        for key, value in result.stats.items():
            attribute = "notes" if key == "notes" else f"notes_{key}"
            setattr(stats, attribute, getattr(stats, attribute) + value)
        melodies.extend(e.astype(np.int64) for e in result.events)
        names.extend(result.names)
    stats.melodies = len(melodies)
    stats.parse_seconds = round(time.perf_counter() - started, 2)
    return MelodyCorpus(melodies, names, stats, label)


def load_corpus(
    source: str,
    *,
    transpose: bool = True,
    cache_dir: str | Path | None = None,
    max_files: int | None = None,
    progress: bool = True,
    out_of_range: OutOfRange = "fold",
    workers: int | None = None,
) -> MelodyCorpus:
    """Load (from cache, else by parsing) the melodies of `source`; see the module docstring.

    `max_files` keeps the first files only (quick experiments); `workers` parser processes
    (default min(2, CPUs); 1 parses in this process).
    """
    if source == "bach+essen":
        return MelodyCorpus.concat(
            [
                load_corpus(
                    part,
                    transpose=transpose,
                    cache_dir=cache_dir,
                    max_files=max_files,
                    progress=progress,
                    out_of_range=out_of_range,
                    workers=workers,
                )
                for part in ("bach", "essen")
            ]
        )
    if out_of_range not in ("fold", "drop"):
        raise CorpusError(f"out_of_range must be 'fold' or 'drop', got {out_of_range!r}")
    if max_files is not None and max_files < 1:
        raise CorpusError(f"max_files must be >= 1 (or None for all files), got {max_files}")
    label, files = source_files(source)
    if max_files is not None:
        files = files[:max_files]
    key = cache_key(label, files, transpose, out_of_range, user=label.startswith("folder-"))
    cache_path = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache_path = cache_path / f"{label}-{key[:16]}.npz"
    cached = _load_cache(cache_path, key, label)
    if cached is not None:
        corpus = _deduplicated(cached)
        status_line(corpus.stats.describe(label, cached=True), quiet=not progress)
        return corpus
    if workers is None:
        workers = min(2, os.cpu_count() or 1)
    corpus = _parse(
        label,
        files,
        transpose=transpose,
        out_of_range=out_of_range,
        workers=workers,
        progress=progress,
    )
    if not corpus.melodies:
        reasons = "; ".join(corpus.stats.skipped[:3])
        raise CorpusError(
            f"no melody could be read from {source} ({corpus.stats.files_skipped} files skipped: "
            f"{reasons}); check the files open in a score editor"
        )
    _save_cache(cache_path, key, corpus)
    corpus = _deduplicated(corpus)
    status_line(corpus.stats.describe(label), quiet=not progress)
    return corpus


def _deduplicated(corpus: MelodyCorpus) -> MelodyCorpus:
    """Drop melodies identical to an earlier one (the chorale list and Essen's test files
    repeat some tunes), so a split never puts the same melody on both sides."""
    seen: set[bytes] = set()
    keep: list[int] = []
    for index, melody in enumerate(corpus.melodies):
        digest = melody.astype(np.int8).tobytes()
        if digest not in seen:
            seen.add(digest)
            keep.append(index)
    if len(keep) == len(corpus):
        return corpus
    stats = replace(corpus.stats, skipped=list(corpus.stats.skipped))
    stats.duplicates_dropped += len(corpus) - len(keep)
    stats.melodies = len(keep)
    return MelodyCorpus(
        [corpus.melodies[i] for i in keep], [corpus.names[i] for i in keep], stats, corpus.source
    )
