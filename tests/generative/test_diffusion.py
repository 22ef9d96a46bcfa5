"""DDPM: learns a toy density; log_prob is a variational lower bound, correct where it is known."""

import math

import pytest
import torch

from gmrl.core.errors import ConfigError
from gmrl.generative.diffusion import DDPM, MAX_BETA, noise_schedule
from gmrl.generative.metrics import gaussian_log_likelihood, mmd
from gmrl.generative.toy import toy_data

# Measured with these settings (benchmarks/generative_zoo.py, eight_gaussians, seeds 0-2): trained
# MMD 0.076-0.085, untrained 0.85-0.86, data-vs-data floor ~0; held-out bound -2.48..-2.67 vs
# -3.54..-3.55 for a fitted Gaussian (gap 0.88-1.07 nats). Thresholds: ~2x the worst trained MMD,
# and about half the smallest likelihood gap.
MMD_MAX = 0.2
LL_MARGIN = 0.5


def test_learns_eight_gaussians_and_its_bound_beats_a_gaussian() -> None:
    g = torch.Generator().manual_seed(1000)
    train, test = toy_data("eight_gaussians", 2000, g), toy_data("eight_gaussians", 1000, g)
    torch.manual_seed(0)
    model = DDPM(data_dim=2)
    untrained = mmd(model.sample(1000, generator=torch.Generator().manual_seed(7)), test)
    model.fit(train, epochs=100, batch_size=128, generator=torch.Generator().manual_seed(0))
    trained = mmd(model.sample(1000, generator=torch.Generator().manual_seed(7)), test)
    bound = float(model.log_prob(test).mean())
    assert untrained > MMD_MAX, f"untrained DDPM already passes: MMD {untrained:.4f}"
    assert trained < MMD_MAX, f"trained DDPM MMD {trained:.4f}"
    assert bound > gaussian_log_likelihood(train, test) + LL_MARGIN


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
@pytest.mark.parametrize("variance", ["small", "large"])
def test_bound_is_below_the_true_log_likelihood(schedule: str, variance: str) -> None:
    """Data N(0, I) and the exact optimal noise predictor for it, eps = sqrt(1 - a_t) x_t.

    On average over the data, the bound is at most the model's log-likelihood, which is at most
    the data's own log-density (Gibbs). With variance="large" it is measured within 0.06 nats.
    """
    x = torch.randn(2000, 2, generator=torch.Generator().manual_seed(0))
    true = float((-0.5 * x.pow(2) - 0.5 * math.log(2 * math.pi)).sum(-1).mean())
    model = DDPM(data_dim=2, schedule=schedule, variance=variance, standardize=False)
    model.predict_noise = lambda x_t, t: model.sqrt_one_minus_alpha_bar[t, None] * x_t
    bound = float(model.log_prob(x).mean())
    assert bound <= true + 0.01
    if variance == "large":
        assert bound > true - 0.15


@pytest.mark.parametrize("chunk_rows", [3, 1000])
def test_bound_is_deterministic_in_any_chunking(chunk_rows: int) -> None:
    torch.manual_seed(0)
    model = DDPM(data_dim=2, timesteps=20, hidden=16)
    x = torch.randn(7, 2)
    rows = model.log_prob(x, chunk_rows=chunk_rows)
    assert torch.equal(model.log_prob(x, chunk_rows=chunk_rows), rows)
    assert rows.shape == (7,) and torch.isfinite(rows).all()


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_schedules_end_in_noise(schedule: str) -> None:
    betas = noise_schedule(schedule, 100)
    alpha_bar = torch.cumprod(1 - betas, 0)
    assert (betas > 0).all() and (betas <= MAX_BETA).all()
    assert (alpha_bar[1:] < alpha_bar[:-1]).all()
    assert alpha_bar[0] > 0.99 and alpha_bar[-1] < 1e-3


def test_bad_parameters_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="schedule"):
        DDPM(schedule="quadratic")
    with pytest.raises(ConfigError, match="variance"):
        DDPM(variance="learned")
    with pytest.raises(ConfigError, match="timesteps"):
        DDPM(timesteps=1)
