"""Sample-quality measures: maximum mean discrepancy and a single-Gaussian likelihood baseline."""

import math

import torch


def mmd(
    x: torch.Tensor, y: torch.Tensor, bandwidths: tuple[float, ...] = (0.1, 0.2, 0.5, 1.0, 2.0)
) -> float:
    """Unbiased squared MMD between samples `x` and `y` with a sum of RBF kernels.

    Several bandwidths make it sensitive both to fine structure (missing modes) and to gross
    misplacement. Zero in expectation when both come from the same distribution.
    """
    x, y = x.double(), y.double()

    def kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        distances = torch.cdist(a, b).pow(2)
        total = torch.zeros_like(distances)
        for h in bandwidths:
            total = total + torch.exp(-distances / (2 * h * h))
        return total

    n, m = len(x), len(y)
    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    term_x = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
    term_y = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return float(term_x + term_y - 2 * kxy.mean())


def gaussian_log_likelihood(train: torch.Tensor, test: torch.Tensor) -> float:
    """Mean log-density of `test` under a full-covariance Gaussian fitted to `train` by ML."""
    train, test = train.double(), test.double()
    mean = train.mean(0)
    centred = train - mean
    cov = centred.T @ centred / len(train) + 1e-6 * torch.eye(train.shape[1], dtype=train.dtype)
    dist = torch.distributions.MultivariateNormal(mean, covariance_matrix=cov)
    return float(dist.log_prob(test).mean())


def bits_per_dim(log_likelihood: float, dim: int) -> float:
    """Convert a mean log-likelihood in nats to bits per dimension (for reporting)."""
    return -log_likelihood / (dim * math.log(2))
