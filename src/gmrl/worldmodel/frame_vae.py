"""A convolutional VAE for small frames: the "V" of World Models.

```python
vae = FrameVAE(channels=2, height=32, width=64, z_dim=16)
vae.fit(frames_uint8, epochs=5, batch_size=64, generator=g)    # (N, 2, 32, 64) uint8
z = vae.encode(frames_uint8)                                   # posterior means, (N, 16)
x = vae.decode(z)                                              # pixel probabilities in [0, 1]
vae.save("vae.safetensors"); again = GenerativeModel.load("vae.safetensors")
```

It follows the `GenerativeModel` contract (fit / sample / log_prob / save / load), so it shares
the zoo's training loop and safetensors format. Frames go in as `uint8` and are mapped to
"ink" in [0, 1] (`1 - pixel / 255`): rendered classic-control frames are mostly white, and making
the background 0 means the Bernoulli likelihood spends its capacity on the cart and pole rather
than on the sky. Three stride-2 convolutions shrink the frame 8x per side, so height and width
must be multiples of 8.
"""

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from gmrl.generative.base import GenerativeModel


def frames_to_ink(frames: torch.Tensor) -> torch.Tensor:
    """uint8 frames (white background) -> float ink in [0, 1] (background 0)."""
    if frames.dtype == torch.uint8:
        return 1.0 - frames.float() / 255.0
    return frames.float()


def ink_to_frames(ink: torch.Tensor) -> torch.Tensor:
    """Inverse of `frames_to_ink`, rounded back to uint8 for plotting."""
    return ((1.0 - ink.clamp(0, 1)) * 255.0).round().to(torch.uint8)


class FrameVAE(GenerativeModel):
    """Gaussian-latent, Bernoulli-pixel VAE over `(channels, height, width)` frames."""

    family: ClassVar[str] = "variational autoencoder (frames)"
    log_prob_kind: ClassVar[str] = "bound"

    def __init__(
        self,
        channels: int = 2,
        height: int = 32,
        width: int = 64,
        z_dim: int = 16,
        base_channels: int = 16,
        beta: float = 1.0,
        lr: float = 1e-3,
    ) -> None:
        if height % 8 or width % 8:
            raise ValueError(f"frame size {height}x{width} must be a multiple of 8 on each side")
        super().__init__(
            channels=channels,
            height=height,
            width=width,
            z_dim=z_dim,
            base_channels=base_channels,
            beta=beta,
            lr=lr,
        )
        self.z_dim = z_dim
        self.beta = beta
        w = base_channels
        self._grid = (4 * w, height // 8, width // 8)
        flat = 4 * w * (height // 8) * (width // 8)
        self.encoder = nn.Sequential(
            nn.Conv2d(channels, w, 4, 2, 1),
            nn.ReLU(),
            nn.Conv2d(w, 2 * w, 4, 2, 1),
            nn.ReLU(),
            nn.Conv2d(2 * w, 4 * w, 4, 2, 1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(flat, 2 * z_dim),
        )
        self.decoder_input = nn.Linear(z_dim, flat)
        self.decoder = nn.Sequential(
            nn.ReLU(),
            nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1),
            nn.ReLU(),
            nn.ConvTranspose2d(w, channels, 4, 2, 1),
        )

    # ------------------------------------------------------------------ model
    def posterior(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-std of q(z | frames)."""
        mean, log_std = self.encoder(frames_to_ink(frames)).chunk(2, dim=-1)
        return mean, log_std.clamp(-8.0, 4.0)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.decoder_input(z).view(-1, *self._grid))

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel ink probabilities in [0, 1] for latents `z`."""
        return torch.sigmoid(self.decode_logits(z))

    @torch.no_grad()
    def encode(self, frames: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
        """Posterior means for a (possibly large) batch of frames, in chunks to bound memory."""
        chunks = [
            self.posterior(frames[i : i + batch_size].to(self.device))[0]
            for i in range(0, len(frames), batch_size)
        ]
        return torch.cat(chunks) if chunks else torch.zeros(0, self.z_dim, device=self.device)

    def negative_elbo(
        self, frames: torch.Tensor, generator: Any = None
    ) -> tuple[torch.Tensor, ...]:
        """Per-frame (reconstruction NLL in nats, KL) with one reparameterised sample."""
        ink = frames_to_ink(frames)
        mean, log_std = self.posterior(frames)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device)
        z = mean + noise * log_std.exp()
        logits = self.decode_logits(z)
        recon = F.binary_cross_entropy_with_logits(logits, ink, reduction="none").flatten(1).sum(1)
        kl = 0.5 * (mean.pow(2) + (2 * log_std).exp() - 1.0 - 2 * log_std).sum(1)
        return recon, kl

    # ------------------------------------------------------------------ GenerativeModel contract
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": torch.optim.Adam(self.parameters(), lr=self.hparams["lr"])}

    def train_step(self, batch: torch.Tensor) -> dict[str, float]:
        recon, kl = self.negative_elbo(batch)
        loss = (recon + self.beta * kl).mean()
        optimizer = self.optimizers["adam"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"loss": loss.item(), "recon": recon.mean().item(), "kl": kl.mean().item()}

    @torch.no_grad()
    def sample(
        self, n: int, *, generator: torch.Generator | None = None, condition: Any = None
    ) -> torch.Tensor:
        """Frames (uint8) decoded from prior draws."""
        z = torch.randn(n, self.z_dim, generator=generator).to(self.device)
        return ink_to_frames(self.decode(z))

    @torch.no_grad()
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """The ELBO per frame (a lower bound on log p(x) of the binarised-ink likelihood)."""
        recon, kl = self.negative_elbo(x.to(self.device))
        return -(recon + kl)

    @torch.no_grad()
    def reconstruction_error(self, frames: torch.Tensor) -> torch.Tensor:
        """Mean squared ink error per frame of the decoded posterior mean (for comparisons)."""
        frames = frames.to(self.device)
        return (
            (self.decode(self.posterior(frames)[0]) - frames_to_ink(frames))
            .pow(2)
            .flatten(1)
            .mean(1)
        )
