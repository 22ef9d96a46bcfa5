"""Copying and collapse figures on constructed cases: copies of corpus bars are flagged, fresh
melodies from the same distribution are not, and every share matches a plain-Python count."""

import math

import numpy as np
import pytest
import torch

from gmrl.music.copying import (
    NgramIndex,
    copying_metrics,
    max_copies,
    repeated_bar_pct,
    repeated_bars,
)
from gmrl.music.encoding import MusicDataError

from .conftest import melody_like

C4, D4, E4, HOLD, OFF = 14, 16, 18, 1, 0


@pytest.fixture(scope="module")
def corpus() -> tuple[np.ndarray, np.ndarray]:
    """(training windows, held-out windows): melody-like compositions from one distribution."""
    rng = np.random.default_rng(3)
    return melody_like(rng, 300), melody_like(rng, 100)


def _share(events: np.ndarray, train: np.ndarray, n: int) -> float:
    known = {tuple(row[i:i + n]) for row in train.tolist() for i in range(len(row) - n + 1)}
    grams = [tuple(row[i:i + n]) for row in events.tolist() for i in range(len(row) - n + 1)]
    return sum(g in known for g in grams) / len(grams)


def test_memorisation_is_the_share_of_n_grams_found_verbatim(corpus):
    train, held_out = corpus
    index = NgramIndex(train, ns=(4, 8, 16))
    for n in (4, 8, 16):
        assert index.share(held_out, n) == pytest.approx(_share(held_out, train, n))
    assert index.share(train, 16) == 1.0
    assert math.isnan(index.share(np.zeros((3, 5), dtype=np.int64), 8))  # no 8-gram at all


def test_a_sample_that_copies_corpus_bars_is_flagged_and_a_fresh_one_is_not(corpus):
    train, held_out = corpus
    index = NgramIndex(train)
    rng = np.random.default_rng(7)
    # each composition: two 16-step bars, each copied from a random training window
    sources = train[rng.integers(0, len(train), size=(200, 2))]
    halves = rng.integers(0, 2, size=(200, 2))
    copied = np.concatenate([
        np.stack([src[h * 16:(h + 1) * 16] for src, h in zip(sources[:, k], halves[:, k],
                                                               strict=True)])
        for k in (0, 1)], axis=1)
    fresh = melody_like(np.random.default_rng(11), 200)
    yardstick = index.share(held_out, 16)
    flagged = copying_metrics(copied, index, held_out)
    clean = copying_metrics(fresh, index, held_out)
    assert flagged["copies_corpus"] == 1.0, (flagged, yardstick)
    assert flagged["memorisation_8"] > 0.6 and flagged["memorisation_16"] >= 2 / 17
    assert clean["copies_corpus"] == 0.0, (clean, yardstick)
    assert clean["memorisation_16"] == pytest.approx(yardstick, abs=0.05)
    # a tenth of the batch copied whole from training is enough
    some = fresh.copy()
    some[:20] = train[:20]
    assert copying_metrics(some, index, held_out)["copies_corpus"] == 1.0


def test_bars_copied_within_compositions_are_flagged_against_the_corpus_rate(corpus):
    _, held_out = corpus
    rng = np.random.default_rng(5)
    fresh = melody_like(rng, 200)
    looped = np.tile(fresh[:, :8], (1, 4))  # the first bar four times
    assert repeated_bar_pct(looped) == 100.0
    assert copying_metrics(looped, held_out=held_out)["repeats_bars"] == 1.0
    assert copying_metrics(fresh, held_out=held_out)["repeats_bars"] == 0.0
    assert "copies_corpus" not in copying_metrics(fresh, held_out=held_out)  # no index given


def test_repeated_bars_need_a_note_and_an_earlier_aligned_copy():
    a = [C4, HOLD, D4, HOLD, E4, HOLD, HOLD, HOLD]
    silent = [OFF] + [HOLD] * 7
    x = np.array([a + a + silent + silent,  # bar 1 copies bar 0; silence never counts
                  a + silent + a + a])  # bars 2 and 3 copy bar 0
    assert repeated_bars(x).tolist() == [[True, False, False], [False, True, True]]
    assert repeated_bar_pct(x) == pytest.approx(100 * 3 / 6)
    assert math.isnan(repeated_bar_pct(np.zeros((2, 8), dtype=np.int64)))  # one bar: no rate


def test_duplicates_count_the_largest_group_of_copies():
    x = torch.tensor([[C4] * 32, [D4] * 32, [C4] * 32, [C4] * 32])
    assert max_copies(x) == 3
    assert copying_metrics(x)["max_copies"] == 3.0
    assert max_copies(np.arange(64).reshape(2, 32) % 38) == 1


def test_bad_batches_get_a_clear_error():
    with pytest.raises(MusicDataError, match="event ids"):
        max_copies(np.full((1, 32), 38))
    with pytest.raises(MusicDataError, match=r"\(N, T\)"):
        max_copies(np.zeros(32, dtype=np.int64))
