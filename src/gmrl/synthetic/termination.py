"""Termination flags for generated transitions, learned from the real ones.

A generative model of whole transitions reproduces `terminated` as one more column, and on
tasks where termination is the main learning signal that column is not good enough: fitted to
1,000 random-policy steps of InvertedPendulum-v5, a diffusion model's terminal rows had the pole
*upright* 44 % of the time and 2.8 % of its non-terminal rows had it fallen, while every real
row is consistent. Q-learning on such rows learns that balancing may end the episode.

`TerminationLabeller` fits a small classifier (obs, action, next_obs) -> terminated on the real
transitions at each refit, class-balanced because terminal steps are rare, and relabels the
generated ones with it. When the real data holds no termination at all (Pendulum: episodes only
time out) every generated transition is labelled non-terminal, as every real one is.
"""

import numpy as np
import torch
from torch import nn

from gmrl.synthetic.classifier import fit_binary_classifier
from gmrl.synthetic.layout import TransitionLayout, Transitions


class TerminationLabeller:
    """Class-balanced MLP classifier of `terminated` given (obs, action, next_obs)."""

    def __init__(self, layout: TransitionLayout, *, steps: int = 500, hidden: int = 64,
                 seed: int = 0) -> None:
        self.layout = layout
        self.steps = steps
        self.hidden = hidden
        self.generator = torch.Generator().manual_seed(seed)
        self.net: nn.Module | None = None
        self.varying = np.ones(0, dtype=bool)
        self.mean = np.zeros(0)
        self.std = np.ones(0)

    def _inputs(self, rows: np.ndarray) -> torch.Tensor:
        layout = self.layout
        x = np.concatenate([rows[:, layout.obs_slice], rows[:, layout.action_slice],
                            rows[:, layout.next_obs_slice]], axis=1)[:, self.varying]
        return torch.as_tensor((x - self.mean) / self.std, dtype=torch.float32)

    def fit(self, real_rows: np.ndarray) -> dict[str, float]:
        """Train on real encoded rows; returns the training accuracy on each class."""
        target = real_rows[:, self.layout.terminated_column] >= 0.5
        if not target.any() or target.all():
            self.net = None
            self.constant = bool(target.all())
            return {"terminal_fraction": float(target.mean())}
        layout = self.layout
        x_raw = np.concatenate([real_rows[:, layout.obs_slice], real_rows[:, layout.action_slice],
                                real_rows[:, layout.next_obs_slice]], axis=1)
        # columns constant in the real data carry no signal, and a generated row's deviation
        # there would meet untrained weights: they are left out
        self.varying = x_raw.std(0) > 1e-6
        self.mean = x_raw[:, self.varying].mean(0)
        self.std = x_raw[:, self.varying].std(0)
        x = self._inputs(real_rows)
        y = torch.as_tensor(target, dtype=torch.float32)
        seed = int(torch.randint(2**31 - 1, (1,), generator=self.generator))
        positive = float(y.mean())
        weight = torch.where(y > 0.5, 0.5 / positive, 0.5 / (1 - positive))  # balanced classes
        net = fit_binary_classifier(x, y, init_seed=seed, batches=self.generator,
                                    steps=self.steps, lr=3e-3, hidden=self.hidden, weight=weight)
        self.net = net
        with torch.no_grad():
            predicted = net(x).squeeze(1) > 0
        truth = y > 0.5
        return {"terminal_fraction": positive,
                "terminal_recall": float(predicted[truth].float().mean()),
                "nonterminal_recall": float((~predicted[~truth]).float().mean())}

    @torch.no_grad()
    def relabel(self, batch: Transitions) -> Transitions:
        """`batch` with `terminated` predicted from its (obs, action, next_obs)."""
        if self.net is None:
            value = 1.0 if getattr(self, "constant", False) else 0.0
            batch.terminated = np.full(len(batch), value, dtype=np.float32)
            return batch
        rows = self.layout.encode(batch)
        logits = self.net(self._inputs(rows)).squeeze(1)
        batch.terminated = (logits > 0).float().numpy().astype(np.float32)
        return batch
