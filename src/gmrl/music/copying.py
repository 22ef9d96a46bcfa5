"""Copying and collapse in a batch of compositions: duplicates, memorisation, repeated bars.

A tuner can meet music-theory rows by repeating itself (collapse onto a few compositions, or a
bar copied within each composition) or by reproducing its training data; the Table 1 rows do
not see either. These figures do, each beside the same figure for held-out corpus windows (real
melodies the Note-RNN never saw: the fair yardstick, since real music shares phrases too):

- `max_copies`: the largest number of copies of one composition in the batch (1 = no two
  alike); `unique_fraction` (distinct compositions / N) is in `metrics.diversity_metrics`.
- `memorisation_8`, `memorisation_16`: the share of the batch's 8- and 16-event n-grams (every
  start position, repeats counted) found verbatim among the n-grams of the training windows
  (`NgramIndex`). Held-out windows scored the same way give the yardstick.
- `repeated_bar_pct`: the share, in percent, of the bars (aligned, `bar_length` steps, the
  first bar of each composition excluded) that repeat an earlier bar of the same composition
  event for event and hold at least one note-on (a bar of silence or of one held note is not a
  copied bar).
- Flags against the held-out yardstick (floats, so they log like the other figures):
  `copies_corpus` = 1.0 when `memorisation_16` exceeds the held-out windows' by more than
  `MEMORISATION_MARGIN` (5 percentage points); `repeats_bars` = 1.0 when `repeated_bar_pct` is
  at least `BAR_FACTOR` (5) times the held-out windows' and at least `BAR_MIN_PCT` (1 %), the
  attractor check's rule (`gmrl.sequence.diversity.attractor_check`).

Event ids are < 38, so an n-gram is stored as n bytes and compared exactly (no hashing).
"""

from collections.abc import Sequence

import numpy as np
import torch

from gmrl.music.encoding import FIRST_NOTE, NUM_EVENTS, MusicDataError

Events = torch.Tensor | np.ndarray | Sequence[Sequence[int]]

NGRAMS = (8, 16)
MEMORISATION_MARGIN = 0.05
BAR_FACTOR = 5.0
BAR_MIN_PCT = 1.0


def as_array(events: Events) -> np.ndarray:
    """`(N, T)` uint8 events (a clear error for anything else)."""
    x = events.detach().cpu().numpy() if isinstance(events, torch.Tensor) else np.asarray(events)
    if x.ndim != 2:
        raise MusicDataError(f"compositions must be an (N, T) array, got shape {x.shape}")
    if x.size and (x.min() < 0 or x.max() >= NUM_EVENTS):
        raise MusicDataError(f"event ids must be in 0..{NUM_EVENTS - 1}")
    return x.astype(np.uint8)


def ngrams(events: Events, n: int) -> np.ndarray:
    """Every n-gram of every composition as one fixed-size byte string (numpy void), in order."""
    x = as_array(events)
    if n < 1:
        raise ValueError(f"n-grams need n >= 1, got {n}")
    if x.shape[1] < n or len(x) == 0:
        return np.zeros(0, dtype=np.dtype((np.void, n)))
    grams = np.lib.stride_tricks.sliding_window_view(x, n, axis=1).reshape(-1, n)
    return np.ascontiguousarray(grams).view(np.dtype((np.void, n))).ravel()


class NgramIndex:
    """The distinct n-grams of a corpus (its training windows), for exact look-ups."""

    def __init__(self, corpus: Events, ns: Sequence[int] = NGRAMS) -> None:
        self.known = {n: np.unique(ngrams(corpus, n)) for n in ns}

    def share(self, events: Events, n: int) -> float:
        """Share of the batch's n-grams found verbatim in the corpus (NaN when it has none)."""
        grams = ngrams(events, n)
        if len(grams) == 0:
            return float("nan")
        return float(np.isin(grams, self.known[n]).mean())


def max_copies(events: Events) -> int:
    """The largest number of copies of one composition in the batch (0 for an empty batch)."""
    x = as_array(events)
    if len(x) == 0:
        return 0
    return int(np.unique(x, axis=0, return_counts=True)[1].max())


def repeated_bars(events: Events, bar_length: int = 8) -> np.ndarray:
    """`(N, B - 1)` True where aligned bar b >= 1 repeats an earlier aligned bar of the same
    composition event for event and holds a note-on (trailing steps short of a bar ignored)."""
    x = as_array(events)
    bars = x.shape[1] // bar_length
    if bars < 2:
        return np.zeros((len(x), 0), dtype=bool)
    blocks = x[:, : bars * bar_length].reshape(len(x), bars, bar_length)
    same = (blocks[:, :, None, :] == blocks[:, None, :, :]).all(-1)  # (N, B, B)
    earlier = np.tril(np.ones((bars, bars), dtype=bool), k=-1)
    repeated = (same & earlier).any(-1)
    has_note = (blocks >= FIRST_NOTE).any(-1)
    return (repeated & has_note)[:, 1:]


def repeated_bar_pct(events: Events, bar_length: int = 8) -> float:
    """Percent of the bars after the first that copy an earlier bar (see `repeated_bars`)."""
    flags = repeated_bars(events, bar_length)
    return 100.0 * float(flags.mean()) if flags.size else float("nan")


def copying_metrics(
    events: Events,
    index: NgramIndex | None = None,
    held_out: Events | None = None,
    *,
    bar_length: int = 8,
) -> dict[str, float]:
    """Duplicates and repeated bars; with `index` (the training windows' n-grams) the
    memorisation shares; with `held_out` windows as well, the two flags (see module doc)."""
    report = {"max_copies": float(max_copies(events)),
              "repeated_bar_pct": repeated_bar_pct(events, bar_length)}
    if index is not None:
        for n in index.known:
            report[f"memorisation_{n}"] = index.share(events, n)
    if held_out is not None and len(held_out):
        reference_bars = repeated_bar_pct(held_out, bar_length)
        mine = report["repeated_bar_pct"]
        report["repeats_bars"] = float(
            mine >= BAR_MIN_PCT and mine >= BAR_FACTOR * reference_bars
        )
        if index is not None and 16 in index.known:
            reference = index.share(held_out, 16)
            report["copies_corpus"] = float(
                report["memorisation_16"] > reference + MEMORISATION_MARGIN
            )
    return report
