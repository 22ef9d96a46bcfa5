"""Shared base for the zoo's models of real vectors: shape checks, standardisation, noise, MLPs.

VAE, GAN, RealNVP and DDPM all model float tensors of shape `(batch, data_dim)`. They learn in a
standardised space (per-dimension mean 0 and standard deviation 1, statistics taken from the data
of the first `fit` call and saved with the weights), so one set of default hyper-parameters works
for data of any scale, such as RL transitions. Standardising is an affine map, so densities
convert exactly: `log p(x) = log p(z) - sum(log std)`.

All sampling noise is drawn from the caller's `torch.Generator`. A CPU generator cannot drive
`torch.randn` on CUDA, so noise is drawn on the generator's own device and then moved: the same
seed gives the same samples on every device.
"""

import itertools
from typing import Any

import torch
from torch import nn

from gmrl.core.errors import ConfigError
from gmrl.generative.base import GenerativeModel


def standard_normal(
    shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device
) -> torch.Tensor:
    """N(0, I) noise of `shape` on `device`, drawn from `generator` (global RNG when None)."""
    if generator is None:
        return torch.randn(shape, device=device)
    return torch.randn(shape, generator=generator, device=generator.device).to(device)


def mlp(
    in_dim: int, out_dim: int, hidden: int, layers: int, zero_last: bool = False
) -> nn.Sequential:
    """A SiLU multilayer perceptron with `layers` hidden layers of width `hidden`.

    `zero_last` initialises the output layer to zero, so residual-style models (flow couplings)
    start as the identity.
    """
    widths = [in_dim] + [hidden] * layers
    modules: list[nn.Module] = []
    for width_in, width_out in itertools.pairwise(widths):
        modules += [nn.Linear(width_in, width_out), nn.SiLU()]
    last = nn.Linear(widths[-1], out_dim)
    if zero_last:
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
    modules.append(last)
    return nn.Sequential(*modules)


def require(condition: bool, message: str) -> None:
    """Raise a one-line `ConfigError` for a bad hyper-parameter."""
    if not condition:
        raise ConfigError(message)


class Standardizer(nn.Module):
    """Per-dimension affine map to mean 0 / std 1, fitted once from data and saved as buffers."""

    mean: torch.Tensor
    log_std: torch.Tensor
    ready: torch.Tensor

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("log_std", torch.zeros(dim))
        self.register_buffer("ready", torch.tensor(False))

    @torch.no_grad()
    def initialise(self, data: torch.Tensor) -> None:
        """Take the statistics of `data`, unless they were taken before (e.g. a resumed fit)."""
        if bool(self.ready):
            return
        data = data.detach().to(self.mean.device, torch.float64)
        std = data.std(0, unbiased=False) if len(data) > 1 else torch.ones_like(data[0])
        self.mean.copy_(data.mean(0))
        self.log_std.copy_(std.clamp_min(1e-6).log())
        self.ready.fill_(True)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) * torch.exp(-self.log_std)

    def denormalise(self, z: torch.Tensor) -> torch.Tensor:
        return z * torch.exp(self.log_std) + self.mean

    def log_abs_det(self) -> torch.Tensor:
        """log |d normalise(x) / dx|, to add to a density computed in standardised space."""
        return -self.log_std.sum()


class VectorModel(GenerativeModel):
    """A `GenerativeModel` of `(batch, data_dim)` float vectors, learned in standardised space."""

    def __init__(self, *, data_dim: int, standardize: bool = True, **hparams: Any) -> None:
        require(
            isinstance(data_dim, int) and data_dim >= 1,
            f"data_dim must be a positive integer, got {data_dim!r}",
        )
        super().__init__(data_dim=data_dim, standardize=standardize, **hparams)
        self.data_dim = data_dim
        self.standardize = bool(standardize)
        self.scaler = Standardizer(data_dim)

    def prepare_fit_data(self, data: torch.Tensor) -> torch.Tensor:
        """Check the shape and take the standardisation statistics on the first `fit`."""
        self._check_shape(data, "fit")
        if self.standardize:
            self.scaler.initialise(data)
        return data

    def _check_shape(self, x: torch.Tensor, where: str) -> None:
        if x.dim() != 2 or x.shape[1] != self.data_dim:
            raise ValueError(
                f"{type(self).__name__}.{where} expects shape (batch, {self.data_dim}), "
                f"got {tuple(x.shape)}"
            )

    def _prepare(self, x: torch.Tensor, where: str) -> torch.Tensor:
        """Check the shape, move to the model's device as float32 and standardise."""
        self._check_shape(x, where)
        return self.scaler.normalise(x.to(self.device, torch.float32))

    def _unconditional(self, condition: Any) -> None:
        if condition is not None:
            raise ValueError(
                f"{type(self).__name__} is unconditional: call sample without condition"
            )
