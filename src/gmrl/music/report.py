"""Every figure one music table reports for a batch of compositions, from one call.

The recipe scores its tuned policy, the Note-RNN's own samples and the held-out corpus windows
with it, and the benchmark's `--rescore` scores stored token files with it again, so a table and
its rescore cannot drift apart. What goes in (each figure is defined in its own module):

- RL Tuner's Table 1 rows and pitch statistics (`metrics.rltuner_metrics`), diversity and the
  collapse flag (`metrics.diversity_metrics`), duplicates and repeated bars
  (`copying.copying_metrics`): from the compositions alone;
- with `note_rnn`: log p per composition and per event, median and 10th percentile
  (`likelihood.log_p_metrics`);
- with `reference` (held-out corpus windows): the attractor check
  (`gmrl.sequence.diversity.attractor_check`) and the repeated-bar flag;
- with `index` (the training windows' n-grams) as well: memorisation and its flag.
"""

import numpy as np
import torch

from gmrl.generative.autoregressive import AutoregressiveModel
from gmrl.music.copying import NgramIndex, copying_metrics
from gmrl.music.likelihood import log_p_metrics
from gmrl.music.metrics import diversity_metrics, rltuner_metrics
from gmrl.sequence.diversity import attractor_check

Batch = torch.Tensor | np.ndarray


def composition_report(
    events: Batch,
    note_rnn: AutoregressiveModel | None = None,
    reference: Batch | None = None,
    index: NgramIndex | None = None,
) -> dict[str, float]:
    """The figures of the module doc for a `(N, T)` batch; those whose inputs are missing are
    left out (never guessed)."""
    report = dict(rltuner_metrics(events))
    report.update(diversity_metrics(events))
    if note_rnn is not None:
        report.update(log_p_metrics(note_rnn, events))
    has_reference = reference is not None and len(reference) > 0
    if reference is not None and has_reference:
        report["attractor"] = attractor_check(torch.as_tensor(events).long(),
                                              torch.as_tensor(reference).long())["attractor"]
    report.update(copying_metrics(events, index, reference if has_reference else None))
    return report
