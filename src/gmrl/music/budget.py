"""The log-p budget of a tuned melody, read off the corpus before tuning, and beta held to it.

Meeting RL Tuner's Table 1 rows costs probability under the Note-RNN: real melodies that meet
them are themselves far below the Note-RNN's own samples (on Essen about 20 nats per
composition). Issue 25 makes that the yardstick: a tuned melody may be as improbable as real
music that obeys the same rules, no more. `log_p_budget` measures it on the held-out windows of
the corpus at hand, before tuning, so that no weight is fitted per corpus:

- a window *meets the rows* when it does on its own the per-step rows of Table 1 at the
  paper's Q values: no excessive repeats, every note in key, at least 91.1 % of its leaps
  resolved (or no leaps) and at least 75.7 % of its steps in a motif (tonic start and repeated
  motif are shares over a batch, which a single window cannot meet or miss);
- the budget is the mean log p of the Note-RNN's own samples minus that of the windows that
  meet the rows; where fewer than `min_windows` do (none of the Bach chorales' reaches the motif
  row), of the `min_windows` windows with the most steps in a motif, the real melodies closest
  to the rows, and the result says so (`meeting` < `min_windows`).

`BudgetController` holds the tuner to it (Ziegler et al. 2019's adaptive KL controller, used as
a ceiling): after every step it measures how far the batch went, the larger of the KL to the
Note-RNN and the drop in log p below the Note-RNN's samples (both per composition: the KL
grows when the policy concentrates, the drop when it wanders to unlikely melodies), and raises
beta while that is over budget; under budget beta falls back, never below its start.
"""

from dataclasses import dataclass

import numpy as np
import torch

from gmrl.generative.autoregressive import AutoregressiveModel
from gmrl.music import theory
from gmrl.music.likelihood import composition_log_probs
from gmrl.music.paper import RL_TUNER_TABLE1
from gmrl.sequence.kl_control import AdaptiveKLController

# RL Tuner's Q row (Table 1) for the per-step rows, as the benchmark's targets state them
MOTIF_ROW = round(RL_TUNER_TABLE1["q"]["notes_in_motif_pct"] / 100, 6)
LEAPS_ROW = round(RL_TUNER_TABLE1["q"]["leaps_resolved_pct"] / 100, 6)


def meets_rows(events: torch.Tensor | np.ndarray, bar_length: int = 8) -> torch.Tensor:
    """`(N,)` bool: which windows meet the per-step Table 1 rows on their own (module doc)."""
    x = theory.as_events(events)
    motif = (theory.motif_notes(x, bar_length) >= 3).float().mean(1)
    leaps = theory.leap_outcomes(x)
    resolved = (leaps == theory.LEAP_RESOLVED).sum(1)
    judged = resolved + (leaps == theory.LEAP_DOUBLED).sum(1)
    leaps_ok = (judged == 0) | (resolved.float() >= LEAPS_ROW * judged.float())
    return ((motif >= MOTIF_ROW) & (theory.excessive_repeats(x).sum(1) == 0)
            & (theory.not_in_key(x).sum(1) == 0) & leaps_ok)


@dataclass(frozen=True)
class Budget:
    """The measured budget: `nats` per composition, from `used` windows, `meeting` of which
    meet the rows; `own_log_p` is the Note-RNN samples' mean log p it is counted from."""

    nats: float
    own_log_p: float
    windows_log_p: float
    meeting: int
    used: int
    held_out: int

    def as_metrics(self) -> dict[str, float]:
        """The figures a run's summary records (`budget/<name>`)."""
        return {f"budget/{k}": float(v) for k, v in self.__dict__.items()}


def log_p_budget(
    note_rnn: AutoregressiveModel, held_out: torch.Tensor | np.ndarray, own: torch.Tensor,
    *, min_windows: int = 10, bar_length: int = 8,
) -> Budget:
    """The budget of the module doc from the held-out windows and `own`, a batch of the
    Note-RNN's own samples (at least 1 nat, so a corpus whose rule-meeting melodies are likelier
    than the samples still leaves the tuner room)."""
    windows = theory.as_events(held_out)
    if len(windows) == 0:
        raise ValueError("kl_budget 'corpus' needs held-out windows: set corpus.test_fraction > 0 "
                         "or give kl_budget in nats")
    with torch.no_grad():
        log_p = composition_log_probs(note_rnn, windows)
        own_log_p = float(composition_log_probs(note_rnn, own).mean())
    meeting = meets_rows(windows, bar_length)
    chosen = meeting
    if int(meeting.sum()) < min_windows:  # the closest real melodies: most steps in a motif
        motif = (theory.motif_notes(windows, bar_length) >= 3).float().mean(1)
        chosen = torch.zeros_like(meeting)
        chosen[motif.argsort(descending=True, stable=True)[:min_windows]] = True
    windows_log_p = float(log_p[chosen].mean())
    return Budget(nats=max(1.0, own_log_p - windows_log_p), own_log_p=own_log_p,
                  windows_log_p=windows_log_p, meeting=int(meeting.sum()),
                  used=int(chosen.sum()), held_out=len(windows))


class BudgetController:
    """beta raised while max(KL, log-p drop) per composition is over `budget` (module doc)."""

    def __init__(self, beta: float, budget: float, own_log_p: float, horizon: int) -> None:
        self.controller = AdaptiveKLController(beta, budget, horizon, min_beta=beta)
        self.own_log_p = float(own_log_p)

    def measure(self, kl: float, ref_log_p: float) -> float:
        """How far a batch went: the larger of its KL and its log-p drop (nats/composition)."""
        return max(kl, self.own_log_p - ref_log_p)

    def update(self, beta: float, kl: float, ref_log_p: float, batch_size: int) -> float:
        """The next beta after a batch (`beta`: the tuner's current one, so a resumed run that
        restored it continues from there)."""
        self.controller.beta = beta
        self.controller.update(self.measure(kl, ref_log_p), batch_size)
        return self.controller.beta
