"""Statistics of a batch of compositions: RL Tuner's Table 1, pitch statistics, diversity.

`rltuner_metrics` reproduces `compute_composition_stats` of
magenta/models/rl_tuner/rl_tuner_eval_metrics.py (the statistics of Jaques et al. 2017,
Table 1), with the same denominators:

- `repeated_notes_pct`, `not_in_key_pct`, `notes_in_motif_pct`, `notes_in_repeated_motif_pct`:
  per-step counts over all N x T steps ("total_notes" = compositions x composition length, rests
  and holds included), in percent.
- `tonic_start_pct`, `unique_max_pct`, `unique_min_pct`: per composition, in percent. The tonic
  start checks only step 0 (RL Tuner's `add_tonic_start_stat`).
- `leaps_resolved_pct`: resolved leaps / (resolved + doubled leaps), pooled over the batch,
  in percent (NaN when there is no leap).
- `autocorrelation_lag1/2/3`: mean over compositions of `rl_tuner_ops.autocorrelate` of the raw
  event ids, NaN (constant) compositions left out, as its `np.nanmean`. Not a percentage.

Added (MusPy's definitions, Dong et al. 2020; note-ons counted once each, rests and holds
ignored, means over the compositions that hold at least one note):
- `pitch_class_entropy`: entropy in bits of each composition's pitch-class histogram.
- `scale_consistency`: share of note-ons in the best-fitting major or natural-minor scale (the
  natural minor scales are the relative majors' pitch sets, so this is the best of 12 keys).
- `pitch_range`: highest minus lowest note, in semitones.

`diversity_metrics` measures mode collapse over the same batch.
"""

import math
from collections.abc import Sequence

import numpy as np
import torch

from gmrl.music import theory
from gmrl.music.encoding import FIRST_NOTE, MIN_PITCH, MusicDataError, pitch_to_event
from gmrl.sequence.diversity import sequence_diversity

Events = torch.Tensor | np.ndarray | Sequence[Sequence[int]]

_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_NATURAL_MINOR = (0, 2, 3, 5, 7, 8, 10)


def rltuner_metrics(
    events: Events,
    *,
    key: Sequence[int] = theory.C_MAJOR_PITCH_CLASSES,
    tonic_pitch: int = 60,
    bar_length: int = 8,
) -> dict[str, float]:
    """RL Tuner Table 1's rows plus pitch statistics for a `(N, T)` batch (see module doc).

    Defaults are RL Tuner's: C major, tonic = middle C (its `C_MAJOR_TONIC`, event 14), bars of
    8 steps for motifs.
    """
    x = theory.as_events(events)
    if x.numel() == 0:
        raise MusicDataError("rltuner_metrics needs at least one composition of length >= 1")
    n_comp, steps = x.shape
    total_steps = n_comp * steps
    leaps = theory.leap_outcomes(x)
    resolved = int((leaps == theory.LEAP_RESOLVED).sum())
    doubled = int((leaps == theory.LEAP_DOUBLED).sum())
    stats = {
        "repeated_notes_pct": _pct(theory.excessive_repeats(x).sum(), total_steps),
        "not_in_key_pct": _pct(theory.not_in_key(x, key).sum(), total_steps),
        "tonic_start_pct": _pct((x[:, 0] == pitch_to_event(tonic_pitch)).sum(), n_comp),
        "leaps_resolved_pct": _pct(resolved, resolved + doubled),
        "unique_max_pct": _pct(theory.unique_high(x).sum(), n_comp),
        "unique_min_pct": _pct(theory.unique_low(x).sum(), n_comp),
        "notes_in_motif_pct": _pct((theory.motif_notes(x, bar_length) >= 3).sum(), total_steps),
        "notes_in_repeated_motif_pct": _pct(
            theory.repeated_motif(x, bar_length).sum(), total_steps
        ),
    }
    for lag in (1, 2, 3):
        stats[f"autocorrelation_lag{lag}"] = _nanmean(theory.autocorrelation(x, lag))
    stats.update(pitch_statistics(x))
    return stats


def pitch_statistics(events: Events) -> dict[str, float]:
    """Pitch-class entropy (bits), scale consistency (0..1) and pitch range (semitones), each
    averaged over the compositions that hold a note (NaN when none does)."""
    x = theory.as_events(events)
    notes = theory.is_note(x)
    has_notes = notes.any(1)
    classes = torch.where(notes, theory.pitch_class(x), 12)
    histogram = torch.zeros(len(x), 13, dtype=torch.float64, device=x.device)
    histogram.scatter_add_(1, classes, torch.ones_like(classes, dtype=torch.float64))
    histogram = histogram[:, :12]
    count = histogram.sum(1, keepdim=True).clamp(min=1)
    share = histogram / count
    entropy = -(share * torch.log2(torch.where(share > 0, share, 1.0))).sum(1)

    scales = torch.zeros(24, 12, dtype=torch.float64, device=x.device)
    for tonic in range(12):
        scales[tonic, [(tonic + pc) % 12 for pc in _MAJOR]] = 1.0
        scales[12 + tonic, [(tonic + pc) % 12 for pc in _NATURAL_MINOR]] = 1.0
    consistency = (share @ scales.T).max(1).values

    pitches = x - FIRST_NOTE + MIN_PITCH
    high = torch.where(notes, pitches, -1).max(1).values
    low = torch.where(notes, pitches, 10_000).min(1).values
    span = (high - low).double()
    return {
        "pitch_class_entropy": _nanmean(entropy[has_notes]),
        "scale_consistency": _nanmean(consistency[has_notes]),
        "pitch_range": _nanmean(span[has_notes]),
    }


def diversity_metrics(
    events: Events, *, min_unique_fraction: float = 0.5, max_top1_share: float = 0.05
) -> dict[str, float]:
    """How varied a `(N, T)` batch of compositions is; the first check for mode collapse.

    - `unique_fraction`: distinct compositions / N.
    - `distinct_2`, `distinct_3`: distinct event n-grams / all n-grams (Li et al. 2016).
    - `token_entropy`: entropy in bits of the event histogram over all steps (max log2 38).
    - `top1_share`: share of the batch taken by its most common composition.
    - `collapsed`: 1.0 when `unique_fraction < min_unique_fraction` or
      `top1_share > max_top1_share`, else 0.0 (a float, so it logs like the others).
    """
    x = theory.as_events(events)
    if len(x) == 0:
        raise MusicDataError("diversity_metrics needs at least one composition")
    figures = sequence_diversity(x, base=2.0)
    unique, top1 = figures["unique_fraction"], figures["top_sequence_share"]
    return {
        "unique_fraction": unique,
        "distinct_2": figures["distinct_2"],
        "distinct_3": figures["distinct_3"],
        "token_entropy": figures["token_entropy"],
        "top1_share": top1,
        "collapsed": float(unique < min_unique_fraction or top1 > max_top1_share),
    }


def _pct(count: torch.Tensor | int, total: int) -> float:
    """100 * count / total, NaN for an empty total."""
    return 100.0 * float(count) / total if total else math.nan


def _nanmean(values: torch.Tensor) -> float:
    """Mean of the finite entries; NaN when there is none (numpy's nanmean, without a warning)."""
    kept = values[~torch.isnan(values)]
    return float(kept.mean()) if len(kept) else math.nan
