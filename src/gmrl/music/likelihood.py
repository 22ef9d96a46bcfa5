"""How probable a batch of compositions is under the Note-RNN: per composition, per event, spread.

The mean log p of a batch (RL Tuner's "how close to the data" figure) hides its spread: a tuner
can keep the mean near the Note-RNN's while a tenth of its compositions are ones the Note-RNN
finds very unlikely, and a gap of 1 nat per event is 32 nats per composition. So every table
reports, under the frozen Note-RNN:

- `log_p`: mean log p per composition (nats; `note_rnn.mean_log_prob`, to the same digits);
- `log_p_per_event`: the same divided by the composition length;
- `log_p_median`, `log_p_p10`: the median and 10th percentile over compositions of log p per
  composition (the 10th percentile: the least likely tenth starts there).
"""

import numpy as np
import torch

from gmrl.generative.autoregressive import AutoregressiveModel
from gmrl.music.note_rnn import event_log_probs


def composition_log_probs(
    model: AutoregressiveModel, events: torch.Tensor | np.ndarray
) -> torch.Tensor:
    """`(N,)` log p of each composition under `model` (nats)."""
    return event_log_probs(model, events).sum(1)


def log_p_metrics(
    model: AutoregressiveModel, events: torch.Tensor | np.ndarray
) -> dict[str, float]:
    """The four figures of the module doc for a `(N, T)` batch (N >= 1)."""
    per_composition = composition_log_probs(model, events)
    steps = int(torch.as_tensor(events).shape[-1])
    return log_p_summary(per_composition, steps)


def log_p_summary(per_composition: torch.Tensor, steps: int) -> dict[str, float]:
    """The module doc's figures from per-composition log p values of compositions of `steps`
    events (the mean as a float32 mean, as `mean_log_prob` computes it)."""
    if per_composition.numel() == 0:
        raise ValueError("log p figures need at least one composition")
    per_composition = per_composition.detach().cpu()
    mean = float(per_composition.mean())
    values = per_composition.double().numpy()
    return {
        "log_p": mean,
        "log_p_per_event": mean / steps,
        "log_p_median": float(np.median(values)),
        "log_p_p10": float(np.percentile(values, 10)),
    }
