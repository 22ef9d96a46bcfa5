"""The fidelity guard: the synthetic share of a minibatch follows how well generated transitions
match real ones the generator never saw.

After each refit `SyntheticReplayBuffer` scores its new pool against held-out real transitions
(`gmrl.synthetic.fidelity`: a small classifier's held-out accuracy at telling the two apart,
0.5 = cannot tell). `next_share` turns that score into the share of each sampled batch that is
synthetic, in the manner of additive-increase / multiplicative-decrease congestion control:

- accuracy above `max_accuracy`: the share is multiplied by `backoff` (halved by default), down
  to `min_share`; a share under `SNAP_TO_ZERO` becomes 0 (at SB3's batch of 256 it would be 2
  rows or fewer);
- accuracy at or below `max_accuracy`: the share rises by `recovery` x the configured ratio,
  never above the configured ratio;
- no verdict (fidelity off, too few held-out rows, or a NaN score): the share is left as it is.

A cut is fast and a recovery gradual because a bad generator poisons every gradient step until
the next refit, while a good one only adds a little (docs/BENCHMARKS.md: half a batch of an
untrained generator's samples stopped SAC learning on every seed), so one bad verdict weighs
more than one good one.
"""

import math

from gmrl.synthetic.config import FidelityGuardConfig

SNAP_TO_ZERO = 0.01
"""A lowered share under this is set to 0 (it would be a row or two per batch)."""

MIN_VERDICT_ROWS = 32
"""Fewest held-out real rows the guard judges on. The classifier is tested on as many rows as
there are real ones; on 32 its accuracy for indistinguishable data has a standard deviation of
0.5 / sqrt(32) = 0.09, so the default threshold 0.85 lies nearly 4 of them above chance: one
faithful refit is very unlikely to be cut by noise. With fewer rows the share is left alone."""


def next_share(share: float, ratio: float, accuracy: float, rows: int,
               config: FidelityGuardConfig) -> float:
    """The synthetic share after a refit whose pool a classifier told from `rows` held-out real
    transitions with `accuracy` (see the module doc). `share` is the current share, `ratio` the
    configured one (the ceiling)."""
    if not config.enabled:
        return ratio
    if rows < MIN_VERDICT_ROWS or not math.isfinite(accuracy):
        return share
    if accuracy > config.max_accuracy:
        lowered = share * config.backoff
        if lowered < SNAP_TO_ZERO:
            lowered = 0.0
        return max(lowered, min(config.min_share, ratio))
    return min(ratio, share + config.recovery * ratio)
