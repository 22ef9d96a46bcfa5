"""The small binary MLP classifier the synthetic package trains twice: to tell generated from
real transitions (`fidelity`) and to label generated terminations (`termination`)."""

import torch
from torch import nn


def fit_binary_classifier(
    x: torch.Tensor, y: torch.Tensor, *, init_seed: int, batches: torch.Generator, steps: int,
    lr: float, hidden: int = 64, weight: torch.Tensor | None = None,
) -> nn.Module:
    """An MLP (two SiLU layers of `hidden`) fitted to logits of `y` by `steps` Adam steps on
    minibatches of up to 256 rows drawn with `batches`; per-row loss `weight` optional.

    The initial weights come from `init_seed` inside a forked RNG, so the global torch
    generator (which training loops around it depend on) is left untouched.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        net = nn.Sequential(nn.Linear(x.shape[1], hidden), nn.SiLU(), nn.Linear(hidden, hidden),
                            nn.SiLU(), nn.Linear(hidden, 1))
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(steps):
        index = torch.randint(len(x), (min(256, len(x)),), generator=batches)
        loss = nn.functional.binary_cross_entropy_with_logits(
            net(x[index]).squeeze(1), y[index], weight=None if weight is None else weight[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return net
