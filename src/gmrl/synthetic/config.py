"""Typed settings of synthetic experience: which generator, how often it refits, how much it feeds.

The same `SyntheticConfig` is the `synthetic:` section of the `synthetic` recipe and the
`replay_buffer_kwargs` of `SyntheticReplayBuffer` (validated once, here, in both places).
Defaults follow SynthER (Lu et al. 2023) scaled to a CPU: a diffusion model over whole
transitions, half of every minibatch synthetic, refit warm-started on a fixed schedule. Beyond
SynthER, 10 % of real transitions are held out of the generator's fit and a fidelity guard
(`FidelityGuardConfig`, on by default) lowers the synthetic share while the generator's samples
are easy to tell from those held-out transitions.
"""

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from gmrl.core.config import Probability, StrictModel


class TransitionModelConfig(StrictModel):
    """The zoo model fitted to whole transitions and its per-refit training budget."""

    name: str = Field("diffusion", description="zoo model: diffusion, vae, flow or gan")
    params: dict[str, Any] = Field(
        default_factory=dict, description="constructor keywords (data_dim is set for you)"
    )
    fit_steps: int = Field(
        1000, ge=0, description="gradient steps per refit (0: an untrained generator, ablation)"
    )
    first_fit_steps: int = Field(
        2000, ge=0, description="gradient steps of the first fit (the model starts from scratch)"
    )
    batch_size: int = Field(256, ge=1)
    restandardize: bool = Field(
        True, description="retake per-dimension mean/std from all real data at every refit"
    )

    @field_validator("name")
    @classmethod
    def _vector_model(cls, name: str) -> str:
        allowed = ("diffusion", "vae", "flow", "gan")
        if name not in allowed:
            raise ValueError(
                f"transition generator must be one of {', '.join(allowed)} (got '{name}')"
            )
        return name


class FidelityGuardConfig(StrictModel):
    """When generated transitions stop matching held-out real ones, use fewer of them
    (`gmrl.synthetic.guard`; the share in force is logged as `synthetic/share`).

    The default threshold, a real-vs-synthetic classifier accuracy of 0.85, sits between what
    was measured for faithful and for useless generators. In the benchmark (docs/BENCHMARKS.md,
    last refit of each SAC run, scored on fitted rows) trained diffusion generators read
    0.56-0.75 on Pendulum-v1 and InvertedPendulum-v5 and untrained ones 0.97-1.00 (with those SAC
    never learned). On 500 random-policy Pendulum-v1 steps, scored on the 50 held-out rows
    (5 seeds, default generator): 0.48-0.61 after the first fit's 2,000 steps, 0.43-0.57 after
    200, 0.94-0.98 untrained. A faithful generator can thus read up to ~0.75, and on the 32-100
    rows early refits score on the figure varies by 0.05-0.09 (0.5 / sqrt(rows)), so a threshold
    of 0.75 would cut good generators on noise; 0.85 still cuts an untrained-like one at once.
    """

    enabled: bool = Field(
        True, description="adapt the synthetic share to fidelity (false: always `ratio`)"
    )
    max_accuracy: float = Field(
        0.85, ge=0.5, le=1.0, allow_inf_nan=False,
        description="classifier accuracy (0.5 = indistinguishable) above which the share is cut",
    )
    backoff: float = Field(
        0.5, ge=0.0, lt=1.0, allow_inf_nan=False,
        description="factor applied to the share after a refit that fails the check (0: drop "
        "synthetic data at once)",
    )
    min_share: Probability = Field(
        0.0, description="floor the share is never cut below (at most `ratio`)"
    )
    recovery: float = Field(
        0.25, gt=0.0, le=1.0, allow_inf_nan=False,
        description="after a refit that passes, the share rises by this fraction of `ratio` "
        "(0.25: four passing refits from 0 back to `ratio`)",
    )


class SyntheticConfig(StrictModel):
    """How synthetic transitions are made and mixed into an off-policy agent's minibatches."""

    ratio: Probability = Field(
        0.5, description="fraction of every minibatch that is synthetic (0: real data only)"
    )
    refit_every: int = Field(500, ge=1, description="real env steps between generator refits")
    min_real: int = Field(
        500, ge=2, description="real transitions before the first fit (until then: real only)"
    )
    pool_size: int = Field(
        20000, ge=1, description="synthetic transitions generated after each refit and sampled from"
    )
    generator: TransitionModelConfig = Field(default_factory=TransitionModelConfig)
    terminal: Literal["classifier", "generated"] = Field(
        "classifier",
        description="terminated flags of generated transitions: from a classifier fitted to the "
        "real ones at each refit, or the generator's own (rounded) column",
    )
    fidelity_samples: int = Field(
        1000, ge=0, description="real/synthetic pairs scored (MMD, classifier) per refit; 0: off"
    )
    fidelity_holdout: float = Field(
        0.1, ge=0.0, le=0.5, allow_inf_nan=False,
        description="share of real transitions the generator is never fitted on; fidelity is "
        "scored on the most recent of them (0: on the most recent fitted ones)",
    )
    guard: FidelityGuardConfig = Field(default_factory=FidelityGuardConfig)
    # 63 bits, not a run seed's 32: the synthetic recipe hands the buffer a seed derived from
    # the run's (`derive_seed`), which uses the full range
    seed: int = Field(
        0, ge=0, lt=2**63, description="seed of the generator's training and sampling draws"
    )

    @model_validator(mode="after")
    def _floor_within_ratio(self) -> "SyntheticConfig":
        if self.guard.min_share > self.ratio:
            raise ValueError(
                f"guard.min_share ({self.guard.min_share}) exceeds ratio ({self.ratio}): the "
                "guard never raises the share above ratio; lower guard.min_share"
            )
        return self
