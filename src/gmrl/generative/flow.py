"""RealNVP: a normalizing flow of affine coupling layers with an exact log-likelihood.

Each coupling layer leaves half the coordinates (a binary mask, alternating from layer to layer)
unchanged and shifts and scales the other half by amounts an MLP computes from the unchanged
half, so the Jacobian is triangular and its log-determinant is the sum of the log-scales
(Dinh et al., 2017). Log-scales pass through `bound * tanh(.)` so a single step cannot explode.
Optional ActNorm layers (Kingma & Dhariwal, 2018: per-dimension affine maps initialised from the
first batch) and fixed random permutations sit between couplings.

`log_prob(x)` is exact: the standard-normal log-density of the latent plus the log-determinants.
"""

from typing import Any, cast

import torch
from torch import nn

from gmrl.generative.vector import VectorModel, mlp, require, standard_normal

_LOG_2PI = float(torch.log(torch.tensor(2 * torch.pi)))


class AffineCoupling(nn.Module):
    """y = x on the mask; y = x * exp(s(x_masked)) + t(x_masked) off the mask."""

    mask: torch.Tensor

    def __init__(self, mask: torch.Tensor, hidden: int, layers: int, scale_bound: float) -> None:
        super().__init__()
        self.register_buffer("mask", mask)
        dim = mask.numel()
        self.net = mlp(dim, 2 * dim, hidden, layers, zero_last=True)
        self.scale_bound = scale_bound

    def _shift_and_log_scale(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raw_log_scale, shift = self.net(x * self.mask).chunk(2, dim=-1)
        free = 1.0 - self.mask
        return shift * free, self.scale_bound * torch.tanh(raw_log_scale) * free

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shift, log_scale = self._shift_and_log_scale(x)
        return x * torch.exp(log_scale) + shift, log_scale.sum(-1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        shift, log_scale = self._shift_and_log_scale(y)  # the masked half is unchanged
        return (y - shift) * torch.exp(-log_scale)


class ActNorm(nn.Module):
    """y = (x - loc) * exp(-log_scale), with loc/scale set from the first training batch."""

    ready: torch.Tensor

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(dim))
        self.log_scale = nn.Parameter(torch.zeros(dim))
        self.register_buffer("ready", torch.tensor(False))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training and not bool(self.ready) and len(x) > 1:
            with torch.no_grad():
                self.loc.copy_(x.mean(0))
                self.log_scale.copy_(x.std(0).clamp_min(1e-6).log())
                self.ready.fill_(True)
        log_det = -self.log_scale.sum().expand(len(x))
        return (x - self.loc) * torch.exp(-self.log_scale), log_det

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y * torch.exp(self.log_scale) + self.loc


class Permutation(nn.Module):
    """A fixed permutation of the coordinates (volume preserving)."""

    order: torch.Tensor
    inverse_order: torch.Tensor

    def __init__(self, order: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("order", order)
        self.register_buffer("inverse_order", torch.argsort(order))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x[:, self.order], x.new_zeros(len(x))

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y[:, self.inverse_order]


FlowStep = AffineCoupling | ActNorm | Permutation


class RealNVP(VectorModel):
    """RealNVP flow for vectors of dimension >= 2; `log_prob` is the exact log-density.

    Args:
        data_dim: vector size (at least 2: a coupling needs a fixed and a transformed part).
        coupling_layers: number of affine couplings (masks alternate between even/odd indices).
        hidden, layers: width and depth of each coupling's MLP.
        lr, weight_decay: AdamW settings; grad_clip: gradient-norm clipping (0 disables).
        scale_bound: log-scales are `scale_bound * tanh(.)`.
        actnorm: put an ActNorm before each coupling.
        permute: put a fixed random permutation (seeded by the layer index) after each coupling.
        standardize: learn in standardised space (see `gmrl.generative.vector`).
    """

    family = "flow"
    log_prob_kind = "exact"

    def __init__(
        self,
        data_dim: int = 2,
        coupling_layers: int = 8,
        hidden: int = 64,
        layers: int = 2,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        grad_clip: float = 10.0,
        scale_bound: float = 2.0,
        actnorm: bool = True,
        permute: bool = False,
        standardize: bool = True,
    ) -> None:
        super().__init__(
            data_dim=data_dim, coupling_layers=coupling_layers, hidden=hidden, layers=layers,
            lr=lr, weight_decay=weight_decay, grad_clip=grad_clip, scale_bound=scale_bound,
            actnorm=actnorm, permute=permute, standardize=standardize,
        )  # fmt: skip
        require(data_dim >= 2, f"RealNVP needs data_dim >= 2 (got {data_dim}): use another model")
        require(coupling_layers >= 1, "coupling_layers must be at least 1")
        steps: list[nn.Module] = []
        parity = torch.arange(data_dim) % 2
        for index in range(coupling_layers):
            if actnorm:
                steps.append(ActNorm(data_dim))
            mask = (parity == index % 2).float()
            steps.append(AffineCoupling(mask, hidden, layers, scale_bound))
            if permute:
                order = torch.randperm(data_dim, generator=torch.Generator().manual_seed(index))
                steps.append(Permutation(order))
        self.steps = nn.ModuleList(steps)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        hp = self.hparams
        return {
            "model": torch.optim.AdamW(self.parameters(), hp["lr"], weight_decay=hp["weight_decay"])
        }

    def _to_latent(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_det = z.new_zeros(len(z))
        for step in self.steps:
            z, step_log_det = step(z)
            log_det = log_det + step_log_det
        return z, log_det

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log-density of each row of `x` (nats), differentiable."""
        latent, log_det = self._to_latent(self._prepare(x, "log_prob"))
        base = -0.5 * (latent.pow(2) + _LOG_2PI).sum(-1)
        return base + log_det + self.scaler.log_abs_det()

    def train_step(self, batch: torch.Tensor) -> dict[str, float]:
        optimizer = self.optimizers["model"]
        loss = -self.log_prob(batch).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.hparams["grad_clip"] > 0:
            nn.utils.clip_grad_norm_(self.parameters(), self.hparams["grad_clip"])
        optimizer.step()
        return {"loss": float(loss.detach())}

    @torch.no_grad()
    def sample(
        self, n: int, *, generator: torch.Generator | None = None, condition: Any = None
    ) -> torch.Tensor:
        self._unconditional(condition)
        z = standard_normal((n, self.data_dim), generator, self.device)
        for step in reversed(self.steps):
            z = cast(FlowStep, step).inverse(z)
        return self.scaler.denormalise(z)
