"""KL coefficient controllers: a fixed beta, or the adaptive one of Ziegler et al. (2019).

The adaptive controller nudges beta up when the measured KL overshoots `target` and down when it
undershoots, by at most 20% of the error per `horizon` samples, so the KL settles near the target
whatever the reward's scale. With `min_beta` it never goes below that value: a budget
rather than a set point (beta rises while the KL is over the target and falls back to
`min_beta` under it, so being under budget never loosens the leash past where it started).
"""


class FixedKLController:
    """beta stays what it was set to."""

    def __init__(self, beta: float) -> None:
        self.beta = float(beta)

    def update(self, kl: float, batch_size: int) -> None:
        """Fixed: nothing to adapt."""


class AdaptiveKLController(FixedKLController):
    """beta <- max(min_beta, beta * (1 + clip((kl - target) / target, -0.2, 0.2) * batch_size /
    horizon))."""

    def __init__(
        self, beta: float, target: float, horizon: int = 1000, min_beta: float = 0.0
    ) -> None:
        super().__init__(beta)
        if target <= 0 or horizon <= 0:
            raise ValueError(f"adaptive KL needs target, horizon > 0, got {target}, {horizon}")
        self.target = float(target)
        self.horizon = int(horizon)
        self.min_beta = float(min_beta)

    def update(self, kl: float, batch_size: int) -> None:
        error = min(max((kl - self.target) / self.target, -0.2), 0.2)
        self.beta = max(self.min_beta, self.beta * (1.0 + error * batch_size / self.horizon))
