"""A zoo model fitted to whole transitions: warm-started refits and a pool of valid samples.

```python
generator = TransitionGenerator(layout, TransitionModelConfig(name="diffusion"), seed=0)
generator.refit(real_rows)             # first call: first_fit_steps; later: fit_steps, warm
pool, report = generator.generate(20_000)   # decoded `Transitions`, clipped into bounds
```

The model is any vector model of the zoo (`gmrl.generative`), trained by its own `train_step`
on minibatches drawn with the generator's private `torch.Generator`, so a refit's cost is a fixed
number of gradient steps however much real data there is. The model and its optimizer persist
across refits (warm start); the per-dimension standardisation is retaken from all real data at
each refit (`restandardize`), because the states an improving agent visits drift away from the
first ones. `fit_steps=0` keeps the network untrained: the ablation that shows what the
generator's learning, rather than the mixing itself, is worth.

Randomness: minibatch indices and sampling noise come from the generator's own `seed`; the
network's initial weights and the zoo model's training noise (its `train_step`) come from torch's
global generator, which Stable-Baselines3 seeds (`seed=`) and gmrl's checkpoints save. Used on its
own, call `torch.manual_seed` first for repeatable fits.
"""

import time
from typing import Any

import numpy as np
import torch

from gmrl.core.device import resolve_device
from gmrl.generative import GenerativeModel, build_model
from gmrl.generative.base import check_training_data
from gmrl.generative.vector import VectorModel
from gmrl.synthetic.config import TransitionModelConfig
from gmrl.synthetic.layout import DecodeReport, TransitionLayout, Transitions

SAMPLE_CHUNK = 8192  # rows per sampling call: bounds memory for large pools


class TransitionGenerator:
    """Fits `config.name` to encoded transitions and samples decoded ones (see module doc)."""

    def __init__(
        self,
        layout: TransitionLayout,
        config: TransitionModelConfig | None = None,
        *,
        seed: int = 0,
        device: str | torch.device = "cpu",
    ) -> None:
        self.layout = layout
        self.config = config or TransitionModelConfig()
        params = {**self.config.params, "data_dim": layout.width}
        model = build_model(self.config.name, **params)
        if not isinstance(model, VectorModel):  # the config validator allows vector models only
            raise TypeError(f"{self.config.name} is not a model of vectors")
        self.model: VectorModel = model.to(resolve_device(str(device)))
        self.rng = torch.Generator().manual_seed(int(seed))
        self.refits = 0
        self.fit_seconds = 0.0
        self.last_loss = float("nan")

    @property
    def fitted(self) -> bool:
        return self.refits > 0

    def refit(self, rows: np.ndarray | torch.Tensor) -> dict[str, float]:
        """Train on all real rows so far; returns {'loss', 'steps', 'seconds'} of this refit."""
        start = time.perf_counter()
        data = check_training_data(torch.as_tensor(rows, dtype=torch.float32), "generator")
        if self.config.restandardize or not self.fitted:
            self.model.scaler.ready.fill_(False)
        data = self.model.prepare_fit_data(data)
        steps = self.config.first_fit_steps if not self.fitted else self.config.fit_steps
        losses: list[float] = []
        self.model.train()
        for _ in range(steps):
            index = torch.randint(len(data), (self.config.batch_size,), generator=self.rng)
            losses.append(float(self.model.train_step(data[index].to(self.model.device))["loss"]))
        self.model.eval()
        self.refits += 1
        tail = losses[-max(1, len(losses) // 10) :]
        self.last_loss = float(np.mean(tail)) if losses else float("nan")
        seconds = time.perf_counter() - start
        self.fit_seconds += seconds
        return {"loss": self.last_loss, "steps": float(steps), "seconds": seconds}

    @torch.no_grad()
    def sample_rows(self, n: int) -> np.ndarray:
        """`n` raw generated rows (not yet checked against the spaces)."""
        chunks = []
        for start in range(0, n, SAMPLE_CHUNK):
            count = min(SAMPLE_CHUNK, n - start)
            chunks.append(self.model.sample(count, generator=self.rng).float().cpu().numpy())
        return np.concatenate(chunks) if chunks else np.zeros((0, self.layout.width), np.float32)

    def generate(self, n: int) -> tuple[Transitions, DecodeReport]:
        """`n` generated rows decoded into valid transitions (non-finite rows dropped)."""
        return self.layout.decode(self.sample_rows(n))

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.training_state(),
            "rng": self.rng.get_state(),
            "refits": self.refits,
            "fit_seconds": self.fit_seconds,
            "last_loss": self.last_loss,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_training_state(state["model"])
        self.rng.set_state(state["rng"])
        self.refits = int(state["refits"])
        self.fit_seconds = float(state["fit_seconds"])
        self.last_loss = float(state["last_loss"])

    def save(self, path: Any) -> Any:
        """The fitted model alone (a zoo checkpoint: `GenerativeModel.load` reads it)."""
        return self.model.save(path)


__all__ = ["GenerativeModel", "TransitionGenerator"]
