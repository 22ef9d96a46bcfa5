"""The `GenerativeModel` contract every family implements.

```python
model = build_model("flow", data_dim=2)
history = model.fit(data, epochs=50, batch_size=256, generator=g)   # returns History
x = model.sample(1000, generator=g)                                  # (1000, 2)
lp = model.log_prob(x)                                               # (1000,)
model.save("flow.safetensors"); again = GenerativeModel.load("flow.safetensors")
```

Subclasses implement `train_step(batch) -> dict[str, float]` (one optimisation step, using the
optimizers from `configure_optimizers`), `sample` and `log_prob`. `fit` is the shared template:
shuffling with the caller's generator, batching, averaging metrics per epoch, callbacks and an
optional progress bar. Optimizers live on the model, so calling `fit(epochs=1)` repeatedly is the
same as one long `fit`, which is what resumable recipes do.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from gmrl.core.checkpoint import flatten_state, load_tensors, save_tensors, unflatten_state
from gmrl.core.errors import CheckpointError, DataError
from gmrl.core.imports import gmrl_object

EpochCallback = Callable[[int, dict[str, float]], None]


@dataclass
class History:
    """Per-epoch mean of each metric returned by `train_step`."""

    metrics: dict[str, list[float]] = field(default_factory=dict)

    def append(self, values: dict[str, float]) -> None:
        for key, value in values.items():
            self.metrics.setdefault(key, []).append(float(value))

    def last(self, key: str) -> float:
        return self.metrics[key][-1]

    def __len__(self) -> int:
        return max((len(v) for v in self.metrics.values()), default=0)


def check_training_data(data: Any, model: str = "model") -> torch.Tensor:
    """`data` as a tensor with at least one example and only finite values, or a `DataError`."""
    if not isinstance(data, torch.Tensor):
        raise DataError(
            f"{model}.fit() needs a torch.Tensor of examples, got {type(data).__name__}: "
            "convert it with torch.as_tensor"
        )
    if data.dim() == 0 or len(data) == 0:
        raise DataError(
            f"{model}.fit() got no training examples (shape {tuple(data.shape)}): "
            "pass at least one"
        )
    if data.dtype.is_floating_point or data.dtype.is_complex:
        bad = ~torch.isfinite(data)
        if bool(bad.any()):
            rows = bad.reshape(len(data), -1).any(dim=1)
            first = int(rows.nonzero()[0, 0])
            raise DataError(
                f"{model}.fit() data holds {int(bad.sum())} NaN/infinite value(s) in "
                f"{int(rows.sum())} example(s) (first: row {first}): drop or fix them"
            )
    return data


class GenerativeModel(nn.Module, ABC):
    """A generative model: fit to data, sample, score, save and load.

    Constructor arguments must be JSON-serialisable keywords: they are stored by `save` and used
    by `load` to rebuild the model before its weights are read.
    """

    family: ClassVar[str] = "generative"
    log_prob_kind: ClassVar[str] = "exact"  # "exact", "bound" or "none"

    def __init__(self, **hparams: Any) -> None:
        super().__init__()
        self.hparams: dict[str, Any] = dict(hparams)
        self._optimizers: dict[str, torch.optim.Optimizer] = {}

    # ---------------------------------------------------------------- to implement
    @abstractmethod
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Create the optimizers `train_step` uses (called once, lazily, by `fit`)."""

    @abstractmethod
    def train_step(self, batch: torch.Tensor) -> dict[str, float]:
        """One optimisation step on a batch; returns scalar metrics (must include 'loss')."""

    @abstractmethod
    def sample(
        self, n: int, *, generator: torch.Generator | None = None, condition: Any = None
    ) -> torch.Tensor:
        """Draw `n` samples (on the model's device)."""

    @abstractmethod
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Log-likelihood per sample: exact, or a documented lower bound (`log_prob_kind`)."""

    # ---------------------------------------------------------------- shared template
    @property
    def device(self) -> torch.device:
        parameter = next(self.parameters(), None)
        return parameter.device if parameter is not None else torch.device("cpu")

    @property
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        if not self._optimizers:
            self._optimizers = self.configure_optimizers()
        return self._optimizers

    def fit(
        self,
        data: torch.Tensor,
        *,
        epochs: int = 1,
        batch_size: int = 256,
        generator: torch.Generator | None = None,
        callback: EpochCallback | None = None,
        progress: bool = False,
    ) -> History:
        """Train for `epochs` passes over `data`, shuffled with `generator` (CPU generator).

        Empty data, NaN/infinite values or a shape the model does not take raise a one-line
        `DataError` (a `ValueError`) before any step, rather than an IndexError or a NaN loss.
        """
        data = self.prepare_fit_data(check_training_data(data, type(self).__name__))
        if not (isinstance(epochs, int) and epochs >= 0):
            raise DataError(f"fit() needs epochs >= 0, got {epochs!r}")
        if not (isinstance(batch_size, int) and batch_size >= 1):
            raise DataError(f"fit() needs batch_size >= 1, got {batch_size!r}")
        history = History()
        self.train()
        optimizers = self.optimizers  # create before the loop so state exists for checkpoints
        del optimizers
        bar = None
        if progress:
            from gmrl.core.progress import make_progress

            bar = make_progress()
            bar.start()
            task = bar.add_task(type(self).__name__, total=epochs, info="")
        try:
            for epoch in range(epochs):
                order = torch.randperm(len(data), generator=generator)
                sums: dict[str, float] = {}
                batches = 0
                for start in range(0, len(data), batch_size):
                    batch = data[order[start : start + batch_size]].to(self.device)
                    for key, value in self.train_step(batch).items():
                        sums[key] = sums.get(key, 0.0) + float(value)
                    batches += 1
                means = {k: v / batches for k, v in sums.items()}
                history.append(means)
                if callback is not None:
                    callback(epoch, means)
                if bar is not None:
                    bar.update(task, advance=1, info=f"loss {means.get('loss', float('nan')):.4f}")
        finally:
            if bar is not None:
                bar.stop()
        self.eval()
        return history

    def prepare_fit_data(self, data: torch.Tensor) -> torch.Tensor:
        """Model-specific checks and conversion of (already non-empty, finite) training data.

        Subclasses override this hook, not `fit`, so `fit` keeps one explicit signature and a
        misspelt keyword is a TypeError instead of being swallowed.
        """
        return data

    # ---------------------------------------------------------------- state
    def training_state(self) -> dict[str, Any]:
        """Weights and optimizer states, for resumable checkpoints."""
        return {
            "model": dict(self.state_dict()),
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
        }

    def load_training_state(self, state: dict[str, Any]) -> None:
        """Restore what `training_state` returned."""
        self.load_state_dict(state["model"])
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])

    def save(self, path: str | Path) -> Path:
        """Write weights (safetensors) and constructor arguments (JSON metadata) atomically."""
        tensors, skeleton = flatten_state(dict(self.state_dict()))
        metadata = {
            "class": f"{type(self).__module__}:{type(self).__qualname__}",
            "family": self.family,
            "hparams": self.hparams,
            "weights": skeleton,
        }
        return save_tensors(path, tensors, metadata)

    @classmethod
    def load(cls, path: str | Path, map_location: str | torch.device = "cpu") -> "GenerativeModel":
        """Rebuild a saved model; refuses files that are not gmrl model checkpoints."""
        tensors, metadata = load_tensors(path)
        try:
            module_name, class_name = metadata["class"].split(":")
            hparams = metadata["hparams"]
            skeleton = metadata["weights"]
        except (KeyError, ValueError, AttributeError) as exc:
            raise CheckpointError(
                f"'{path}' is not a gmrl model checkpoint: save it with model.save"
            ) from exc
        if not module_name.startswith("gmrl."):
            raise CheckpointError(
                f"'{path}' names a class outside gmrl ({module_name}): refusing to load"
            )
        try:
            model_class = gmrl_object(f"{module_name}:{class_name}")
        except (ImportError, AttributeError, ValueError) as exc:
            raise CheckpointError(
                f"'{path}' needs class {class_name}, unknown to this gmrl version"
            ) from exc
        if not (isinstance(model_class, type) and issubclass(model_class, cls)):
            raise CheckpointError(f"'{path}' holds a {class_name}, not a {cls.__name__}")
        model = model_class(**hparams)
        state = unflatten_state(tensors, skeleton)
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise CheckpointError(
                f"'{path}' weights do not fit {class_name}: {str(exc).splitlines()[0]}"
            ) from exc
        return model.to(map_location).eval()
