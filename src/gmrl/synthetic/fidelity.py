"""How close synthetic transitions are to real ones: MMD and a classifier two-sample test.

Both are computed on rows standardised with the *real* data's statistics, so every column counts
on the same scale. The classifier's held-out accuracy is 0.5 when it cannot tell synthetic from
real and 1.0 when it always can: the easier-to-read of the two figures.
"""

import numpy as np
import torch

from gmrl.generative.metrics import mmd
from gmrl.synthetic.classifier import fit_binary_classifier


def _standardise(real: np.ndarray, synthetic: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    mean = real.mean(0)
    std = real.std(0)
    std = np.where(std > 1e-6, std, 1.0)
    return (
        torch.as_tensor((real - mean) / std, dtype=torch.float32),
        torch.as_tensor((synthetic - mean) / std, dtype=torch.float32),
    )


def classifier_accuracy(
    real: torch.Tensor, synthetic: torch.Tensor, *, seed: int = 0, steps: int = 200
) -> float:
    """Held-out accuracy of a small MLP told to separate `real` from `synthetic` rows."""
    generator = torch.Generator().manual_seed(seed)
    n = min(len(real), len(synthetic))
    x = torch.cat([real[:n], synthetic[:n]])
    y = torch.cat([torch.zeros(n), torch.ones(n)])
    order = torch.randperm(2 * n, generator=generator)
    x, y = x[order], y[order]
    split = n  # half for training, half held out
    net = fit_binary_classifier(x[:split], y[:split], init_seed=seed, batches=generator,
                                steps=steps, lr=1e-3)
    with torch.no_grad():
        predicted = net(x[split:]).squeeze(1) > 0
    return float((predicted == y[split:].bool()).float().mean())


def fidelity(real: np.ndarray, synthetic: np.ndarray, *, seed: int = 0) -> dict[str, float]:
    """{'mmd', 'classifier_accuracy'} between equally many real and synthetic rows."""
    n = min(len(real), len(synthetic))
    if n < 4:
        return {"mmd": float("nan"), "classifier_accuracy": float("nan")}
    rng = np.random.default_rng(seed)
    real = real[rng.choice(len(real), n, replace=False)]
    synthetic = synthetic[rng.choice(len(synthetic), n, replace=False)]
    real_t, synthetic_t = _standardise(real.astype(np.float64), synthetic.astype(np.float64))
    return {
        "mmd": mmd(real_t, synthetic_t),
        "classifier_accuracy": classifier_accuracy(real_t, synthetic_t, seed=seed),
    }
