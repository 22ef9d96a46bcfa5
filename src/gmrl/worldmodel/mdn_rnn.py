"""The "M" of World Models: a GRU over (z_t, a_t) with a Gaussian-mixture head for z_{t+1}.

```python
rnn = MDNRNN(z_dim=16, action_dim=2, discrete=True)
out = rnn(z[:, :-1], actions, h0, z[:, 1:])   # teacher-forced over (batch, T) sequences
loss = rnn.loss(out, z[:, 1:], rewards, terminated, mask)
h1 = rnn.advance(h, z_t, a_t)            # one step of the recurrence
z_next = rnn.sample_next(h1, z_t, temperature=1.0, generator=g)
```

The recurrence `h_{t+1} = GRU(h_t, [z_t, a_t])` summarises the past; the mixture head reads
`[h_{t+1}, z_t]` and gives a K-component diagonal-Gaussian mixture over `z_{t+1}` (means are
offsets from `z_t`, so "nothing moves" is the easy default); the reward and termination heads
read `[h_{t+1}, z_{t+1}]` (the real next latent in training, the sampled one in a dream).
Sampling follows Ha & Schmidhuber: temperature `tau` divides the mixture logits and multiplies
the variances, so `tau < 1` gives a calmer dream and `tau > 1` a harder one.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class MDNOutput:
    """Per-step head outputs: mixture (logits, means, log-stds), reward and termination logit."""

    logits: torch.Tensor  # (..., K)
    means: torch.Tensor  # (..., K, D)
    log_stds: torch.Tensor  # (..., K, D)
    hidden: torch.Tensor  # (..., H): h_{t+1} for every step
    reward: torch.Tensor | None = None  # (...), when z_{t+1} was given
    done_logit: torch.Tensor | None = None  # (...), when z_{t+1} was given


def mixture_log_prob(out: MDNOutput, target: torch.Tensor) -> torch.Tensor:
    """log p(target) under the mixture, summed over latent dimensions; shape `target.shape[:-1]`."""
    target = target.unsqueeze(-2)
    per_dim = -0.5 * ((target - out.means) / out.log_stds.exp()).pow(2) - out.log_stds
    per_component = per_dim.sum(-1) - 0.5 * out.means.shape[-1] * math.log(2 * math.pi)
    return torch.logsumexp(F.log_softmax(out.logits, -1) + per_component, -1)


def last_linear(head: nn.Sequential) -> nn.Linear:
    """The final `nn.Linear` of a head (typed, for bias initialisation)."""
    layer = head[-1]
    assert isinstance(layer, nn.Linear)
    return layer


class MDNRNN(nn.Module):
    """GRU dynamics over VAE latents with mixture-density, reward and termination heads."""

    def __init__(
        self,
        z_dim: int,
        action_dim: int,
        discrete: bool = True,
        hidden: int = 128,
        mixtures: int = 5,
    ) -> None:
        super().__init__()
        self.z_dim, self.action_dim, self.discrete = z_dim, action_dim, discrete
        self.hidden, self.mixtures = hidden, mixtures
        self.gru = nn.GRU(z_dim + action_dim, hidden, batch_first=True)
        features = hidden + z_dim
        self.mdn = nn.Sequential(
            nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, mixtures * (1 + 2 * z_dim))
        )
        self.reward_head = nn.Sequential(
            nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )
        self.done_head = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        with torch.no_grad():  # prior: terminations are rare (p ~ 5%), so training starts near
            last_linear(self.done_head).bias.fill_(-3.0)  # the base rate, not p = 0.5

    def action_features(self, action: torch.Tensor) -> torch.Tensor:
        """One-hot for discrete action indices; continuous actions keep their trailing dimension."""
        if self.discrete:
            return F.one_hot(action.long(), self.action_dim).float()
        return action.float()

    def outcome(self, hidden: torch.Tensor, z_next: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Reward and termination logit of the transition into `z_next` (given `h_{t+1}`).

        They read the *next* latent: whether CartPole's pole has fallen past 12 degrees is
        visible in the next frame, a far easier question than foreseeing it from the current one.
        """
        features = torch.cat([hidden, z_next], -1)
        return self.reward_head(features).squeeze(-1), self.done_head(features).squeeze(-1)

    def heads(
        self, hidden: torch.Tensor, z: torch.Tensor, z_next: torch.Tensor | None = None
    ) -> MDNOutput:
        """Mixture over z_{t+1} from `[h_{t+1}, z_t]`; reward and termination if `z_next` given."""
        raw = self.mdn(torch.cat([hidden, z], -1))
        k, d = self.mixtures, self.z_dim
        logits = raw[..., :k]
        means = z.unsqueeze(-2) + raw[..., k : k + k * d].unflatten(-1, (k, d))
        log_stds = raw[..., k + k * d :].unflatten(-1, (k, d)).clamp(-7.0, 2.0)
        out = MDNOutput(logits=logits, means=means, log_stds=log_stds, hidden=hidden)
        if z_next is not None:
            out.reward, out.done_logit = self.outcome(hidden, z_next)
        return out

    def forward(
        self,
        z: torch.Tensor,
        action: torch.Tensor,
        h0: torch.Tensor | None = None,
        z_next: torch.Tensor | None = None,
    ) -> MDNOutput:
        """Teacher-forced pass over `(batch, T)` latents `z_0..z_{T-1}` and actions.

        With the real `z_next` (`z_1..z_T`) the reward and termination heads are evaluated too.
        """
        inputs = torch.cat([z, self.action_features(action)], -1)
        hidden, _ = self.gru(inputs, None if h0 is None else h0.unsqueeze(0).contiguous())
        return self.heads(hidden, z, z_next)

    def advance(self, h: torch.Tensor, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """One recurrence step for a batch: `h_{t+1} = GRU(h_t, [z_t, a_t])`."""
        inputs = torch.cat([z, self.action_features(action)], -1).unsqueeze(1)
        _, h_next = self.gru(inputs, h.unsqueeze(0).contiguous())
        return h_next.squeeze(0)

    def loss(
        self,
        out: MDNOutput,
        z_next: torch.Tensor,
        reward: torch.Tensor,
        terminated: torch.Tensor,
        mask: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """Masked means of the latent NLL (per dimension), reward MSE and termination BCE.

        `out` must come from a pass that was given `z_next` (so the outcome heads ran).
        """
        assert out.reward is not None and out.done_logit is not None, "pass z_next to forward"
        weight = mask.float()
        count = weight.sum().clamp_min(1.0)
        nll = -(mixture_log_prob(out, z_next) * weight).sum() / count / self.z_dim
        reward_mse = ((out.reward - reward).pow(2) * weight).sum() / count
        done_bce = (
            F.binary_cross_entropy_with_logits(out.done_logit, terminated.float(), reduction="none")
            * weight
        ).sum() / count
        return {
            "loss": nll + reward_mse + done_bce,
            "nll": nll,
            "reward_mse": reward_mse,
            "done_bce": done_bce,
        }

    @torch.no_grad()
    def sample_next(
        self,
        out: MDNOutput,
        *,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Draw z_{t+1} from the mixture at `temperature` (batched; `out` from `heads`)."""
        tau = max(float(temperature), 1e-4)
        probs = F.softmax(out.logits / tau, -1)
        uniform = torch.rand((*probs.shape[:-1], 1), generator=generator).to(probs.device)
        component = (probs.cumsum(-1) < uniform).sum(-1).clamp_max(self.mixtures - 1)
        index = component[..., None, None].expand(*component.shape, 1, self.z_dim)
        mean = out.means.gather(-2, index).squeeze(-2)
        std = out.log_stds.gather(-2, index).squeeze(-2).exp() * math.sqrt(tau)
        noise = torch.randn(mean.shape, generator=generator).to(mean.device)
        return mean + std * noise
