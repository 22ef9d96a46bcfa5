"""Synthetic transitions as data augmentation for another model: a supervised dynamics MLP.

The question (issue 11, item 5): with only N real transitions, does adding M transitions drawn
from a `TransitionGenerator` fitted on those same N transitions make a one-step dynamics model
predict *held-out real* transitions better? The generator sees nothing the dynamics model does
not; any gain comes from the generator's inductive bias (smoothing, interpolation), and any loss
from its errors.

```python
layout, real = random_policy_transitions("Pendulum-v1", 300, seed=0)
_, held_out = random_policy_transitions("Pendulum-v1", 2000, seed=10_000)
results = augmentation_errors(layout, real, held_out, multiples=(0, 1, 5), seed=0)
results[5].normalised_mse    # vs results[0]: real only
```

The dynamics model maps (obs, action) to (next_obs - obs, reward), standardised with the *real*
training rows' statistics, and trains for a fixed number of gradient steps whatever M is (the
same compute, the same initial weights: only the data differs between multiples). Errors are
measured on held-out real transitions only, per target and in original units; `normalised_mse`
divides each target's MSE by that target's variance in the held-out set (1.0 = predicting the
mean) and averages, so environments and targets compare on one scale.
"""

import itertools
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from pydantic import Field
from torch import nn

from gmrl.core.config import NonNegativeFloat, PositiveFloat, StrictModel
from gmrl.core.errors import DataError
from gmrl.rl.envs import make_env
from gmrl.rl.transitions import random_transitions
from gmrl.synthetic.config import TransitionModelConfig
from gmrl.synthetic.generator import TransitionGenerator
from gmrl.synthetic.layout import TransitionLayout, Transitions


class DynamicsConfig(StrictModel):
    """The supervised one-step model and its fixed training budget."""

    hidden: int = Field(200, ge=1, description="width of each hidden layer")
    layers: int = Field(3, ge=1, description="hidden layers (SiLU)")
    steps: int = Field(2000, ge=1, description="gradient steps, the same with or without synthetic")
    batch_size: int = Field(128, ge=1)
    lr: PositiveFloat = 1e-3
    weight_decay: NonNegativeFloat = 1e-4


@dataclass
class AugmentResult:
    """Held-out errors of one dynamics model (original units unless said otherwise)."""

    n_real: int
    n_synthetic: int
    delta_mse: float  # next_obs - obs, mean over observation dimensions
    reward_mse: float
    normalised_mse: float  # mean over targets of MSE / held-out variance
    delta_mse_per_dim: list[float] = field(default_factory=list)
    fit_seconds: float = 0.0


def random_policy_transitions(
    env_id: str, n: int, seed: int
) -> tuple[TransitionLayout, Transitions]:
    """`n` transitions of a uniformly random policy in `env_id` and their layout."""
    env = make_env(env_id)  # a registered id or a user's module:Class, guarded at the step
    try:
        batch = random_transitions(env, n, seed=seed)
        layout = TransitionLayout(env.observation_space, env.action_space)
    finally:
        env.close()
    return layout, Transitions(
        observations=batch["obs"].numpy().reshape(n, -1).astype(np.float32),
        actions=batch["action"].numpy().reshape(n, -1).astype(np.float32),
        rewards=batch["reward"].numpy().reshape(n).astype(np.float32),
        next_observations=batch["next_obs"].numpy().reshape(n, -1).astype(np.float32),
        terminated=batch["terminated"].numpy().reshape(n).astype(np.float32),
    )


def inputs_and_targets(layout: TransitionLayout, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Encoded rows -> inputs [obs | action] and targets [next_obs - obs | reward]."""
    obs, nxt = rows[:, layout.obs_slice], rows[:, layout.next_obs_slice]
    inputs = np.concatenate([obs, rows[:, layout.action_slice]], axis=1)
    targets = np.concatenate([nxt - obs, rows[:, [layout.reward_column]]], axis=1)
    return inputs.astype(np.float32), targets.astype(np.float32)


def _stats(array: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    mean = torch.as_tensor(array.mean(0), dtype=torch.float32)
    std = torch.as_tensor(array.std(0), dtype=torch.float32)
    return mean, torch.where(std > 1e-6, std, torch.ones_like(std))


class DynamicsMLP(nn.Module):
    """An MLP with fixed input/output standardisation: (obs, action) -> (delta, reward)."""

    def __init__(self, x_ref: np.ndarray, y_ref: np.ndarray, config: DynamicsConfig) -> None:
        super().__init__()
        (self.x_mean, self.x_std), (self.y_mean, self.y_std) = _stats(x_ref), _stats(y_ref)
        sizes = [x_ref.shape[1]] + [config.hidden] * config.layers
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(sizes):
            layers += [nn.Linear(a, b), nn.SiLU()]
        self.net = nn.Sequential(*layers, nn.Linear(sizes[-1], y_ref.shape[1]))

    def normalised(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net((x - self.x_mean) / self.x_std)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.normalised(x) * self.y_std + self.y_mean


def fit_dynamics(
    x: np.ndarray, y: np.ndarray, reference: tuple[np.ndarray, np.ndarray],
    config: DynamicsConfig, seed: int,
) -> DynamicsMLP:
    """Train on (x, y) for `config.steps` steps; standardised by the `reference` (real) rows."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DynamicsMLP(*reference, config)
    rng = torch.Generator().manual_seed(seed)
    x_t, y_t = torch.as_tensor(x), torch.as_tensor(y)
    y_norm = (y_t - model.y_mean) / model.y_std
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    for _ in range(config.steps):
        index = torch.randint(len(x_t), (min(config.batch_size, len(x_t)),), generator=rng)
        loss = nn.functional.mse_loss(model.normalised(x_t[index]), y_norm[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def held_out_errors(
    model: DynamicsMLP, x: np.ndarray, y: np.ndarray
) -> tuple[float, float, float, list[float]]:
    """(delta MSE, reward MSE, normalised MSE, delta MSE per dimension) on (x, y)."""
    with torch.no_grad():
        predicted = model(torch.as_tensor(x)).numpy().astype(np.float64)
    per_target = ((predicted - y) ** 2).mean(0)
    variance = np.maximum(y.astype(np.float64).var(0), 1e-12)
    delta = per_target[:-1]
    return float(delta.mean()), float(per_target[-1]), float((per_target / variance).mean()), [
        float(v) for v in delta
    ]


def augmentation_errors(
    layout: TransitionLayout,
    real: Transitions,
    held_out: Transitions,
    *,
    multiples: tuple[float, ...] = (0, 1, 5, 10),
    generator: TransitionModelConfig | None = None,
    dynamics: DynamicsConfig | None = None,
    seed: int = 0,
) -> dict[float, AugmentResult]:
    """Held-out errors of dynamics models trained on `real` plus `multiple * len(real)` synthetic
    transitions, for each multiple (0: real only). One generator, fitted once on `real`, feeds
    every multiple (nested prefixes of one generated pool); every model starts from the same
    weights and takes the same number of steps."""
    if len(real) < 2 or len(held_out) < 2:
        raise DataError("augmentation needs at least 2 real and 2 held-out transitions")
    if any(m < 0 for m in multiples):
        raise DataError(f"synthetic multiples must be >= 0, got {multiples}")
    dynamics = dynamics or DynamicsConfig()
    real_rows = layout.encode(real)
    x_real, y_real = inputs_and_targets(layout, real_rows)
    x_test, y_test = inputs_and_targets(layout, layout.encode(held_out))
    most = max(round(m * len(real)) for m in multiples)
    synthetic_rows = np.zeros((0, layout.width), dtype=np.float32)
    if most > 0:
        # the zoo models draw their initial weights and training noise from torch's global RNG:
        # seed it here, and leave the caller's stream as it was
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            maker = TransitionGenerator(layout, generator, seed=seed)
            maker.refit(real_rows)
            pool, _ = maker.generate(most)
        synthetic_rows = layout.encode(pool)
    results: dict[float, AugmentResult] = {}
    for multiple in multiples:
        m = min(round(multiple * len(real)), len(synthetic_rows))
        x_syn, y_syn = inputs_and_targets(layout, synthetic_rows[:m])
        start = time.perf_counter()
        model = fit_dynamics(np.concatenate([x_real, x_syn]), np.concatenate([y_real, y_syn]),
                             (x_real, y_real), dynamics, seed)
        seconds = time.perf_counter() - start
        delta, reward, normalised, per_dim = held_out_errors(model, x_test, y_test)
        results[multiple] = AugmentResult(
            n_real=len(real), n_synthetic=m, delta_mse=delta, reward_mse=reward,
            normalised_mse=normalised, delta_mse_per_dim=per_dim, fit_seconds=seconds,
        )
    return results
