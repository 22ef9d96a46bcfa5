"""2-D toy distributions for checking generative models by eye and by number.

All samplers draw from a caller-supplied `torch.Generator`, so data sets are reproducible.
"""

import math
from collections.abc import Callable

import torch

from gmrl.core.errors import ConfigError


def two_moons(
    n: int, generator: torch.Generator | None = None, noise: float = 0.08
) -> torch.Tensor:
    """Two interleaving half circles, centred and scaled to roughly [-2, 2]^2."""
    upper = torch.rand(n, generator=generator) < 0.5
    angle = torch.rand(n, generator=generator) * math.pi
    x = torch.where(upper, torch.cos(angle), 1.0 - torch.cos(angle))
    y = torch.where(upper, torch.sin(angle), 0.5 - torch.sin(angle))
    points = torch.stack([x - 0.5, y - 0.25], dim=1) * 1.6
    return points + noise * torch.randn(n, 2, generator=generator)


def eight_gaussians(
    n: int, generator: torch.Generator | None = None, std: float = 0.15
) -> torch.Tensor:
    """Eight Gaussians placed evenly on a circle of radius 2."""
    index = torch.randint(0, 8, (n,), generator=generator)
    angle = index.float() * (2 * math.pi / 8)
    centres = 2.0 * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    return centres + std * torch.randn(n, 2, generator=generator)


def checkerboard(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Uniform density on the black squares of a 4x4 board over [-2, 2]^2."""
    x = torch.rand(n, generator=generator) * 4 - 2
    column = torch.floor(x + 2)
    offset = torch.rand(n, generator=generator) + 2 * torch.randint(0, 2, (n,), generator=generator)
    y = offset - 2 + (column % 2)
    return torch.stack([x, y], dim=1)


DATASETS: dict[str, Callable[..., torch.Tensor]] = {
    "two_moons": two_moons,
    "eight_gaussians": eight_gaussians,
    "checkerboard": checkerboard,
}


def toy_data(name: str, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw `n` points from the named toy distribution."""
    if name not in DATASETS:
        raise ConfigError(f"unknown toy dataset '{name}' (available: {', '.join(DATASETS)})")
    return DATASETS[name](n, generator=generator)
