"""Variational autoencoder for vectors, with Gaussian encoder and decoder MLPs.

The decoder is a proper density on continuous space, N(x; mu(z), sigma(z)^2): by default both the
mean and a per-dimension standard deviation are learned (sigma is kept above `min_decoder_std`
so the likelihood cannot blow up); `decoder_std=<float>` fixes sigma instead (in standardised
units). Training maximises the beta-ELBO, `E_q[log p(x|z)] - beta * KL(q(z|x) || N(0, I))`.

`log_prob(x)` is the importance-weighted bound of Burda et al. (2016) with `iw_samples = k`
samples from the encoder: log p(x) >= E[log mean_k p(x, z_k) / q(z_k | x)]. It is a lower bound on
log p(x) for any k, equals the ELBO for k = 1 and tightens as k grows. It is estimated with one
draw of the k samples, made with a private generator seeded by `eval_seed`, so the same input
batch always gets the same value.
"""

import math
from typing import Any

import torch
import torch.nn.functional as F

from gmrl.generative.vector import VectorModel, mlp, require, standard_normal

_LOG_2PI = math.log(2 * math.pi)


def _gaussian_log_density(
    x: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor
) -> torch.Tensor:
    """Sum over the last axis of log N(x; mean, exp(log_std)^2)."""
    return (-0.5 * ((x - mean) * torch.exp(-log_std)).pow(2) - log_std - 0.5 * _LOG_2PI).sum(-1)


class VAE(VectorModel):
    """Gaussian VAE; `log_prob` is the importance-weighted ELBO (a lower bound, see module doc).

    Args:
        data_dim, latent_dim: sizes of x and z.
        hidden, layers: width and depth of the encoder and decoder MLPs.
        lr: Adam learning rate. beta: weight of the KL term in training (1 = the true ELBO).
        decoder_std: None to learn sigma(z) per dimension, or a fixed sigma (standardised units).
        min_decoder_std: floor on the learned sigma.
        iw_samples: k of the importance-weighted bound used by `log_prob` (1 = plain ELBO).
        eval_seed: seed of the private generator `log_prob` draws its samples from.
        standardize: learn in standardised space (see `gmrl.generative.vector`).
    """

    family = "vae"
    log_prob_kind = "bound"

    def __init__(
        self,
        data_dim: int = 2,
        latent_dim: int = 2,
        hidden: int = 128,
        layers: int = 2,
        lr: float = 1e-3,
        beta: float = 1.0,
        decoder_std: float | None = None,
        min_decoder_std: float = 0.01,
        iw_samples: int = 64,
        eval_seed: int = 0,
        standardize: bool = True,
    ) -> None:
        super().__init__(
            data_dim=data_dim, latent_dim=latent_dim, hidden=hidden, layers=layers, lr=lr,
            beta=beta, decoder_std=decoder_std, min_decoder_std=min_decoder_std,
            iw_samples=iw_samples, eval_seed=eval_seed, standardize=standardize,
        )  # fmt: skip
        require(latent_dim >= 1, f"latent_dim must be at least 1, got {latent_dim}")
        require(iw_samples >= 1, f"iw_samples must be at least 1, got {iw_samples}")
        require(decoder_std is None or decoder_std > 0, "decoder_std must be positive or null")
        require(min_decoder_std > 0, "min_decoder_std must be positive")
        self.latent_dim = latent_dim
        self.encoder = mlp(data_dim, 2 * latent_dim, hidden, layers)
        learned = decoder_std is None
        self.decoder = mlp(latent_dim, 2 * data_dim if learned else data_dim, hidden, layers)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"model": torch.optim.Adam(self.parameters(), lr=self.hparams["lr"])}

    # ---------------------------------------------------------------- the two Gaussians
    def _encode(self, z_data: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.encoder(z_data).chunk(2, dim=-1)
        return mean, log_std.clamp(-8.0, 4.0)

    def _decode(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fixed = self.hparams["decoder_std"]
        if fixed is not None:
            mean = self.decoder(latent)
            return mean, torch.full_like(mean, math.log(fixed))
        mean, raw = self.decoder(latent).chunk(2, dim=-1)
        floor = math.log(self.hparams["min_decoder_std"])
        return mean, floor + F.softplus(raw - floor)

    # ---------------------------------------------------------------- training
    def train_step(self, batch: torch.Tensor) -> dict[str, float]:
        optimizer = self.optimizers["model"]
        x = self._prepare(batch, "train_step")
        mean, log_std = self._encode(x)
        latent = mean + torch.exp(log_std) * torch.randn_like(mean)
        reconstruction = _gaussian_log_density(x, *self._decode(latent))
        kl = 0.5 * (mean.pow(2) + torch.exp(2 * log_std) - 1.0 - 2 * log_std).sum(-1)
        loss = -(reconstruction - self.hparams["beta"] * kl).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        elbo = (reconstruction - kl).mean() + self.scaler.log_abs_det()
        return {
            "loss": float(loss.detach()),
            "kl": float(kl.mean().detach()),
            "elbo": float(elbo.detach()),
        }

    # ---------------------------------------------------------------- density and samples
    @torch.no_grad()
    def log_prob(self, x: torch.Tensor, chunk_size: int = 1024) -> torch.Tensor:
        """Importance-weighted lower bound on log p(x) per row, k = `iw_samples` (nats)."""
        z_data = self._prepare(x, "log_prob")
        k = self.hparams["iw_samples"]
        generator = torch.Generator().manual_seed(self.hparams["eval_seed"])
        parts = []
        for chunk in z_data.split(chunk_size):
            mean, log_std = self._encode(chunk)
            eps = standard_normal((k, *mean.shape), generator, self.device)
            latent = mean + torch.exp(log_std) * eps  # (k, batch, latent_dim)
            log_weight = (
                _gaussian_log_density(chunk, *self._decode(latent))
                + _gaussian_log_density(latent, torch.zeros_like(latent), torch.zeros_like(latent))
                - _gaussian_log_density(latent, mean, log_std)
            )
            parts.append(torch.logsumexp(log_weight, dim=0) - math.log(k))
        empty = z_data.new_zeros(0)
        return (torch.cat(parts) if parts else empty) + self.scaler.log_abs_det()

    @torch.no_grad()
    def sample(
        self, n: int, *, generator: torch.Generator | None = None, condition: Any = None
    ) -> torch.Tensor:
        """Draw z ~ N(0, I), then x ~ p(x | z) (the full generative process)."""
        self._unconditional(condition)
        latent = standard_normal((n, self.latent_dim), generator, self.device)
        mean, log_std = self._decode(latent)
        noise = standard_normal((n, self.data_dim), generator, self.device)
        return self.scaler.denormalise(mean + torch.exp(log_std) * noise)
