"""Rescoring stored compositions: a music table's figures recomputed and checked against it.

A results table is only as good as the compositions behind it, so the music benchmark keeps
every seed's compositions as gzip token files beside its JSON, with the Note-RNN that scored
them. `rescore_tables` recomputes every figure of `report.composition_report` from those
compositions (log p only where the Note-RNN is given; memorisation and the corpus checks only
where the training and held-out windows are), and `compare` names each stored figure the
rescore does not reproduce, so a table that cannot be recomputed says so instead of passing.
"""

import math
from collections.abc import Mapping

import numpy as np

from gmrl.generative.autoregressive import AutoregressiveModel
from gmrl.music.copying import NgramIndex
from gmrl.music.report import composition_report

RELATIVE_TOLERANCE = 1e-9  # JSON round-trips floats exactly; this only forgives summation order


def rescore_tables(
    tables: Mapping[str, np.ndarray],
    note_rnn: AutoregressiveModel | None = None,
    train: np.ndarray | None = None,
    held_out: np.ndarray | None = None,
) -> dict[str, dict[str, float]]:
    """Every figure of each named `(N, T)` batch; with `held_out`, also its own row `corpus`."""
    index = NgramIndex(train) if train is not None and len(train) else None
    batches = dict(tables)
    if held_out is not None and len(held_out):
        batches.setdefault("corpus", held_out)
    return {
        name: {k: float(v) for k, v in
               composition_report(events, note_rnn, held_out, index).items()}
        for name, events in batches.items()
    }


def same(stored: object, rescored: float) -> bool:
    """Do a stored figure (None = NaN in strict JSON) and a rescored one agree?"""
    if stored is None or (isinstance(stored, float) and math.isnan(stored)):
        return math.isnan(rescored)
    if not isinstance(stored, (int, float)) or isinstance(stored, bool):
        return False
    return math.isclose(float(stored), rescored, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-12)


def compare(
    stored: Mapping[str, object], rescored: Mapping[str, float]
) -> tuple[list[str], list[str], list[str]]:
    """(figures that disagree, stored figures not recomputed, figures new in the rescore)."""
    differ = [k for k in stored if k in rescored and not same(stored[k], rescored[k])]
    missing = [k for k in stored if k not in rescored]
    new = [k for k in rescored if k not in stored]
    return differ, missing, new
