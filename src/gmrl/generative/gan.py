"""Generative adversarial network for vectors: MLP generator and discriminator.

Training uses the non-saturating loss of Goodfellow et al. (2014) with the R1 gradient penalty on
real data (Mescheder et al., 2018), which keeps the discriminator smooth near the data and makes
GAN training converge on low-dimensional data without mode hopping. Each `train_step` makes
`disc_steps` discriminator updates and one generator update, with separate Adam optimizers named
"discriminator" and "generator".

A GAN defines samples but no density, so `log_prob` raises `NotImplementedError`: compare GAN
samples to data with `gmrl.generative.metrics.mmd`, or use a flow, VAE or diffusion model when
a likelihood is needed.
"""

from typing import Any

import torch
import torch.nn.functional as F

from gmrl.generative.vector import VectorModel, mlp, require, standard_normal


class GAN(VectorModel):
    """Non-saturating GAN with R1 penalty; has no `log_prob` (see module doc).

    Args:
        data_dim: vector size. noise_dim: size of the generator's Gaussian input.
        hidden, layers: width and depth of both MLPs.
        lr: Adam learning rate of both players; betas: Adam betas.
        r1_gamma: weight of the R1 penalty (gamma/2 * |grad D(real)|^2).
        disc_steps: discriminator updates per generator update.
        standardize: learn in standardised space (see `gmrl.generative.vector`).

    `train_step` returns `loss` (the discriminator loss, about 2 ln 2 = 1.39 at equilibrium),
    `generator_loss`, `discriminator_loss` and `r1`.
    """

    family = "gan"
    log_prob_kind = "none"

    def __init__(
        self,
        data_dim: int = 2,
        noise_dim: int = 4,
        hidden: int = 128,
        layers: int = 2,
        lr: float = 5e-4,
        betas: tuple[float, float] | list[float] = (0.5, 0.9),
        r1_gamma: float = 0.1,
        disc_steps: int = 1,
        standardize: bool = True,
    ) -> None:
        betas = [float(b) for b in betas]  # a list, so the stored hparams are plain JSON
        super().__init__(
            data_dim=data_dim, noise_dim=noise_dim, hidden=hidden, layers=layers, lr=lr,
            betas=betas, r1_gamma=r1_gamma, disc_steps=disc_steps, standardize=standardize,
        )  # fmt: skip
        require(noise_dim >= 1, f"noise_dim must be at least 1, got {noise_dim}")
        require(len(betas) == 2, f"betas must be two numbers, got {betas}")
        require(disc_steps >= 1, f"disc_steps must be at least 1, got {disc_steps}")
        require(r1_gamma >= 0, f"r1_gamma must be non-negative, got {r1_gamma}")
        self.noise_dim = noise_dim
        self.generator = mlp(noise_dim, data_dim, hidden, layers)
        self.discriminator = mlp(data_dim, 1, hidden, layers)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        lr, betas = self.hparams["lr"], tuple(self.hparams["betas"])
        return {
            "generator": torch.optim.Adam(self.generator.parameters(), lr=lr, betas=betas),
            "discriminator": torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=betas),
        }

    def _generate(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Samples in standardised space."""
        return self.generator(standard_normal((n, self.noise_dim), generator, self.device))

    def _discriminator_step(self, real: torch.Tensor) -> dict[str, float]:
        optimizer = self.optimizers["discriminator"]
        with torch.no_grad():
            fake = self._generate(len(real))
        real = real.detach().requires_grad_(True)
        real_logits = self.discriminator(real)
        loss = F.softplus(-real_logits).mean() + F.softplus(self.discriminator(fake)).mean()
        (gradient,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
        r1 = gradient.pow(2).sum(-1).mean()
        optimizer.zero_grad(set_to_none=True)
        (loss + 0.5 * self.hparams["r1_gamma"] * r1).backward()
        optimizer.step()
        return {"discriminator_loss": float(loss.detach()), "r1": float(r1.detach())}

    def _generator_step(self, n: int) -> float:
        optimizer = self.optimizers["generator"]
        loss = F.softplus(-self.discriminator(self._generate(n))).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # also fills discriminator grads; they are cleared before its next step
        optimizer.step()
        return float(loss.detach())

    def train_step(self, batch: torch.Tensor) -> dict[str, float]:
        real = self._prepare(batch, "train_step")
        for _ in range(self.hparams["disc_steps"]):
            metrics = self._discriminator_step(real)
        metrics["generator_loss"] = self._generator_step(len(real))
        metrics["loss"] = metrics["discriminator_loss"]
        return metrics

    @torch.no_grad()
    def sample(
        self, n: int, *, generator: torch.Generator | None = None, condition: Any = None
    ) -> torch.Tensor:
        self._unconditional(condition)
        return self.scaler.denormalise(self._generate(n, generator))

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(
            "a GAN has no likelihood: compare its samples to data with "
            "gmrl.generative.metrics.mmd, or use a flow, VAE or diffusion model for log_prob"
        )
