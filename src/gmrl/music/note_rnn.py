"""The Note-RNN: the zoo's autoregressive model over RL Tuner's 38 melody events.

RL Tuner (Jaques et al. 2017) starts from a "Note-RNN", one LSTM layer of 100 units trained by
maximum likelihood on monophonic melodies; it is the prior every tuner stays close to. Here it is
`gmrl.generative.autoregressive.AutoregressiveModel` with `vocab_size=38` and `seq_len=32` (a
causal transformer is an option), trained on 32-step corpus windows:

```python
model = build_note_rnn(NoteRNNConfig())
for epoch in range(20):
    fit_epoch(model, train_windows, batch_size=128, generator=g)
print(per_event_nll(model, test_windows))      # nats per event; uniform is log 38 = 3.64
print(mean_log_prob(model, model.sample(1000, generator=g)))   # nats per composition
save_note_rnn(model, "note_rnn.safetensors"); again = load_note_rnn("note_rnn.safetensors")
```
"""

import math
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import Field

from gmrl.core.checkpoint import load_artifact, restore_or_explain, save_artifact
from gmrl.core.config import PositiveFloat, StrictModel
from gmrl.core.errors import CheckpointError
from gmrl.generative.autoregressive import AutoregressiveModel

NUM_EVENTS = 38  # RL Tuner's classes: note off, no event, MIDI 48..83 (gmrl.music.encoding)
STEPS = 32  # 2 bars of 4/4 in 16th notes
ARTIFACT_KIND = "note_rnn"
UNIFORM_NLL = math.log(NUM_EVENTS)


class NoteRNNConfig(StrictModel):
    """The Note-RNN's architecture and maximum-likelihood training (RL Tuner: LSTM, 100 units)."""

    cell: Literal["lstm", "gru", "transformer"] = Field("lstm", description="recurrent core")
    hidden: int = Field(100, ge=1, description="units of the LSTM (transformer width)")
    embed_dim: int = Field(38, ge=1, description="event embedding size (38 ~ RL Tuner's one-hot)")
    layers: int = Field(1, ge=1, description="stacked layers / transformer blocks")
    heads: int = Field(4, ge=1, description="attention heads (transformer only)")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout during MLE training")
    lr: PositiveFloat = Field(3e-3, description="Adam learning rate")
    epochs: int = Field(20, ge=0, description="passes over the training windows")
    min_updates: int | None = Field(
        None, ge=1,
        description="at least this many Adam steps: more passes than `epochs` on a small "
        "corpus, so one setting fits corpora of any size (`pretrain_epochs`)",
    )
    batch_size: int = Field(128, ge=1, description="windows per Adam step")
    checkpoint: str | None = Field(
        None,
        description="a saved Note-RNN (note_rnn.safetensors of an earlier run) to reuse instead "
        "of pre-training; the corpus is still loaded for held-out figures",
    )


def build_note_rnn(config: NoteRNNConfig, seq_len: int = STEPS) -> AutoregressiveModel:
    """A fresh, untrained Note-RNN over the 38 events."""
    return AutoregressiveModel(
        vocab_size=NUM_EVENTS, seq_len=seq_len, embed_dim=config.embed_dim,
        hidden=config.hidden, layers=config.layers, cell=config.cell, heads=config.heads,
        dropout=config.dropout, lr=config.lr,
    )


def pretrain_epochs(config: NoteRNNConfig, n_windows: int) -> int:
    """Passes over `n_windows` training windows: `epochs`, or more when that gives fewer than
    `min_updates` Adam steps (a corpus of 3,800 windows needs ~30 passes for the updates one
    pass over 70,000 gives; `epochs` is then the floor for large corpora)."""
    if config.min_updates is None or n_windows == 0:
        return config.epochs
    per_epoch = math.ceil(n_windows / config.batch_size)
    return max(config.epochs, math.ceil(config.min_updates / per_epoch))


def as_events(events: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Compositions `(N, T)` as an int64 tensor (numpy arrays are converted, not copied twice)."""
    tensor = torch.from_numpy(np.asarray(events)) if isinstance(events, np.ndarray) else events
    return tensor.long()


def fit_epoch(
    model: AutoregressiveModel,
    windows: torch.Tensor | np.ndarray,
    *,
    batch_size: int,
    generator: torch.Generator,
) -> float:
    """One maximum-likelihood pass over `windows`; returns the mean training NLL per event."""
    history = model.fit(as_events(windows), epochs=1, batch_size=batch_size, generator=generator)
    return history.last("loss")


@torch.no_grad()
def event_log_probs(
    model: AutoregressiveModel, events: torch.Tensor | np.ndarray, batch: int = 4096
) -> torch.Tensor:
    """`(N, T)` log p(event_t | events_<t) under `model` (eval mode), in CPU chunks."""
    was_training = model.training
    model.eval()
    tokens = as_events(events)
    parts = [
        model.token_log_probs(tokens[i : i + batch].to(model.device)).cpu()
        for i in range(0, len(tokens), batch)
    ]
    model.train(was_training)
    return torch.cat(parts) if parts else torch.zeros(0, tokens.shape[-1])


def per_event_nll(model: AutoregressiveModel, events: torch.Tensor | np.ndarray) -> float:
    """Mean negative log-likelihood per event in nats (held-out NLL; uniform = log 38)."""
    return float(-event_log_probs(model, events).mean())


def mean_log_prob(model: AutoregressiveModel, events: torch.Tensor | np.ndarray) -> float:
    """Mean log p of whole compositions under `model` (nats per composition).

    With the frozen Note-RNN as `model` this is RL Tuner's "how close to the data" figure: a tuned
    policy whose samples score far below the Note-RNN's own samples has left what it learned.
    """
    return float(event_log_probs(model, events).sum(1).mean())


def save_note_rnn(model: AutoregressiveModel, path: str | Path, **extra: float | str) -> Path:
    """Save the Note-RNN as a gmrl artifact (safetensors + JSON constructor arguments)."""
    return save_artifact(
        path, kind=ARTIFACT_KIND, cls=type(model), init=dict(model.hparams),
        state=dict(model.state_dict()), extra=dict(extra),
    )


def load_note_rnn(path: str | Path) -> AutoregressiveModel:
    """Load a Note-RNN saved by `save_note_rnn`; any problem is a one-line `CheckpointError`."""
    artifact = load_artifact(path, kind=ARTIFACT_KIND, base=AutoregressiveModel)
    model = artifact.cls(**artifact.init)
    if model.vocab_size != NUM_EVENTS:
        raise CheckpointError(
            f"'{path}' is a model over {model.vocab_size} tokens, not the {NUM_EVENTS} melody "
            "events: use a Note-RNN saved by the music recipe"
        )
    restore_or_explain(path, "a Note-RNN", lambda: model.load_state_dict(artifact.state))
    return model.eval()
