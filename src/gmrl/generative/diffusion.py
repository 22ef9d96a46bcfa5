"""DDPM: a denoising diffusion model for vectors (Ho et al., 2020), small enough for a CPU.

The forward process adds Gaussian noise over `timesteps` steps (cosine schedule of Nichol &
Dhariwal 2021, or the linear schedule of Ho et al. rescaled to the number of steps). An MLP with
a sinusoidal time embedding predicts the added noise (epsilon) and is trained with the simple
mean-squared loss. Sampling runs the learned reverse chain with fixed variances, drawing all its
noise from the caller's generator; the last step returns the mean (no noise added).

`log_prob(x)` is the variational lower bound (the negative of Ho et al.'s L, in nats, in
continuous space rather than on discretised pixels):

    log p(x0) >= -[ KL(q(x_T|x0) || N(0, I))
                    + sum_{t=2..T} E_q KL(q(x_{t-1}|x_t, x0) || p(x_{t-1}|x_t))
                    + E_q -log N(x0; mu(x_1, 1), sigma_1^2) ]

Each expectation is estimated with one x_t per timestep, drawn from a private generator seeded
with `eval_seed`, so the same input batch always gets the same value. All timesteps are evaluated
in batched chunks. It is a bound, usually a few tenths of a nat below the true log-likelihood.
"""

import math
from typing import Any

import torch
from torch import nn

from gmrl.generative.vector import VectorModel, mlp, require, standard_normal

# Nichol & Dhariwal cap the cosine schedule's betas at 0.999 for T = 4000. With T ~ 100 the last
# reverse step would then divide by sqrt(1 - beta) ~ 0.03 and amplify any error of the network 30
# times, in samples and in the bound. A cap of 0.5 leaves alpha_bar_T ~ 3e-4 at T = 100, so x_T is
# still pure noise (prior KL ~ 1e-4 nats).
MAX_BETA = 0.5


def noise_schedule(name: str, timesteps: int) -> torch.Tensor:
    """The betas of the named schedule ("cosine" or "linear"), float64, shape (timesteps,)."""
    if name == "cosine":
        s = 0.008
        t = torch.linspace(0, 1, timesteps + 1, dtype=torch.float64)
        alpha_bar = torch.cos((t + s) / (1 + s) * math.pi / 2).pow(2)
        return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=MAX_BETA)
    if name == "linear":
        scale = 1000 / timesteps  # Ho et al.'s 1e-4..0.02 for T = 1000, stretched to T steps
        return torch.linspace(1e-4 * scale, 0.02 * scale, timesteps, dtype=torch.float64).clamp(
            max=MAX_BETA
        )
    raise ValueError(f"unknown schedule {name!r}")


class TimeEmbedding(nn.Module):
    """Sinusoidal features of the step index t in [0, T), as in the Transformer."""

    frequencies: torch.Tensor

    def __init__(self, dim: int, timesteps: int) -> None:
        super().__init__()
        half = dim // 2
        frequencies = torch.exp(-math.log(1000.0) * torch.arange(half) / max(half - 1, 1))
        self.register_buffer("frequencies", frequencies * 1000.0 / timesteps, persistent=False)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        angles = t.float()[:, None] * self.frequencies
        return torch.cat([angles.sin(), angles.cos()], dim=-1)


class DDPM(VectorModel):
    """Epsilon-prediction diffusion model; `log_prob` is the variational bound (module doc).

    Args:
        data_dim: vector size. timesteps: T. schedule: "cosine" or "linear".
        hidden, layers: width and depth of the noise-prediction MLP; time_dim: embedding size.
        lr: Adam learning rate.
        variance: reverse-process variance, "small" (the posterior variance beta~_t, with beta_1
            at t = 1 so the decoder is a proper density) or "large" (beta_t).
        eval_seed: seed of the private generator `log_prob` draws x_t from.
        standardize: learn in standardised space (see `gmrl.generative.vector`).
    """

    family = "diffusion"
    # noise-schedule constants, registered as (non-persistent) buffers in __init__
    betas: torch.Tensor
    sqrt_alpha_bar: torch.Tensor
    sqrt_one_minus_alpha_bar: torch.Tensor
    recip_sqrt_alpha: torch.Tensor
    eps_coef: torch.Tensor
    mean_coef: torch.Tensor
    model_var: torch.Tensor
    posterior_var: torch.Tensor
    log_prob_kind = "bound"

    def __init__(
        self,
        data_dim: int = 2,
        timesteps: int = 100,
        schedule: str = "cosine",
        hidden: int = 128,
        layers: int = 3,
        time_dim: int = 32,
        lr: float = 1e-3,
        variance: str = "large",
        eval_seed: int = 0,
        standardize: bool = True,
    ) -> None:
        super().__init__(
            data_dim=data_dim, timesteps=timesteps, schedule=schedule, hidden=hidden,
            layers=layers, time_dim=time_dim, lr=lr, variance=variance, eval_seed=eval_seed,
            standardize=standardize,
        )  # fmt: skip
        require(timesteps >= 2, f"timesteps must be at least 2, got {timesteps}")
        require(
            schedule in ("cosine", "linear"), f"schedule must be cosine or linear, got {schedule!r}"
        )
        require(
            variance in ("small", "large"), f"variance must be small or large, got {variance!r}"
        )
        require(time_dim >= 2 and time_dim % 2 == 0, f"time_dim must be even, got {time_dim}")
        self.timesteps = timesteps
        self.embed = TimeEmbedding(time_dim, timesteps)
        self.net = mlp(data_dim + time_dim, data_dim, hidden, layers)
        self._register_schedule(noise_schedule(schedule, timesteps), variance)

    def _register_schedule(self, betas: torch.Tensor, variance: str) -> None:
        """Per-step constants, computed in float64 and stored (not saved) as float32 buffers."""
        alphas = 1 - betas
        alpha_bar = torch.cumprod(alphas, 0)
        alpha_bar_prev = torch.cat([alpha_bar.new_ones(1), alpha_bar[:-1]])
        posterior_var = betas * (1 - alpha_bar_prev) / (1 - alpha_bar)
        small = torch.cat([betas[:1], posterior_var[1:]])  # beta_1 at t = 1: a proper decoder
        model_var = small if variance == "small" else betas
        constants = {
            "betas": betas,
            "sqrt_alpha_bar": alpha_bar.sqrt(),
            "sqrt_one_minus_alpha_bar": (1 - alpha_bar).sqrt(),
            "recip_sqrt_alpha": alphas.rsqrt(),
            # mu_theta(x_t) = (x_t - eps_coef * eps_hat) / sqrt(alpha_t), and
            # mu_q(x_t, x0) - mu_theta(x_t) = mean_coef * (eps_hat - eps).
            "eps_coef": betas / (1 - alpha_bar).sqrt(),
            "mean_coef": betas / (alphas.sqrt() * (1 - alpha_bar).sqrt()),
            "model_var": model_var,
            "posterior_var": posterior_var,
        }
        for name, value in constants.items():
            self.register_buffer(name, value.float(), persistent=False)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"model": torch.optim.Adam(self.parameters(), lr=self.hparams["lr"])}

    def predict_noise(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The network's estimate of the noise in `x_t` at step indices `t` (0 = least noisy)."""
        return self.net(torch.cat([x_t, self.embed(t)], dim=-1))

    def _diffuse(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return self.sqrt_alpha_bar[t, None] * x0 + self.sqrt_one_minus_alpha_bar[t, None] * noise

    def train_step(self, batch: torch.Tensor) -> dict[str, float]:
        optimizer = self.optimizers["model"]
        x0 = self._prepare(batch, "train_step")
        t = torch.randint(0, self.timesteps, (len(x0),), device=self.device)
        noise = torch.randn_like(x0)
        loss = (self.predict_noise(self._diffuse(x0, t, noise), t) - noise).pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"loss": float(loss.detach())}

    @torch.no_grad()
    def sample(
        self, n: int, *, generator: torch.Generator | None = None, condition: Any = None
    ) -> torch.Tensor:
        """Ancestral sampling through all T reverse steps."""
        self._unconditional(condition)
        x = standard_normal((n, self.data_dim), generator, self.device)
        for step in reversed(range(self.timesteps)):
            t = torch.full((n,), step, device=self.device, dtype=torch.long)
            eps = self.predict_noise(x, t)
            x = (x - self.eps_coef[step] * eps) * self.recip_sqrt_alpha[step]
            if step > 0:
                noise = standard_normal((n, self.data_dim), generator, self.device)
                x = x + self.model_var[step].sqrt() * noise
        return self.scaler.denormalise(x)

    @torch.no_grad()
    def log_prob(self, x: torch.Tensor, chunk_rows: int = 32768) -> torch.Tensor:
        """Variational lower bound on log p(x) per row (nats); see the module doc."""
        x0 = self._prepare(x, "log_prob")
        n, dim, steps = len(x0), self.data_dim, self.timesteps
        generator = torch.Generator().manual_seed(self.hparams["eval_seed"])
        # Prior term: KL(q(x_T | x0) || N(0, I)), in closed form.
        mean_t, var_t = self.sqrt_alpha_bar[-1] * x0, 1 - self.sqrt_alpha_bar[-1] ** 2
        prior = 0.5 * (var_t + mean_t.pow(2) - 1 - var_t.log()).sum(-1)
        # All (point, step) pairs, flattened point-major and evaluated in chunks of rows.
        terms = []
        for start in range(0, n * steps, chunk_rows):
            rows = torch.arange(start, min(start + chunk_rows, n * steps), device=self.device)
            p, t = rows // steps, rows % steps
            noise = standard_normal((len(rows), dim), generator, self.device)
            error = self.predict_noise(self._diffuse(x0[p], t, noise), t) - noise
            mean_gap2 = (self.mean_coef[t, None] * error).pow(2)  # (mu_q - mu_theta)^2
            var_p, var_q = self.model_var[t, None], self.posterior_var[t, None]
            kl = 0.5 * (
                var_p.log() - var_q.clamp_min(1e-20).log() + (var_q + mean_gap2) / var_p - 1
            )
            decoder_nll = 0.5 * (torch.log(2 * math.pi * var_p) + mean_gap2 / var_p)
            terms.append(torch.where(t[:, None] == 0, decoder_nll, kl).sum(-1))
        per_step = torch.cat(terms).view(n, steps) if terms else x0.new_zeros(n, steps)
        return -(prior + per_step.sum(-1)) + self.scaler.log_abs_det()
