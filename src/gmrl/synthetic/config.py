"""Typed settings of synthetic experience: which generator, how often it refits, how much it feeds.

The same `SyntheticConfig` is the `synthetic:` section of the `synthetic` recipe and the
`replay_buffer_kwargs` of `SyntheticReplayBuffer` (validated once, here, in both places).
Defaults follow SynthER (Lu et al. 2023) scaled to a CPU: a diffusion model over whole
transitions, half of every minibatch synthetic, refit warm-started on a fixed schedule.
"""

from typing import Any, Literal

from pydantic import Field, field_validator

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
    # 63 bits, not a run seed's 32: the synthetic recipe hands the buffer a seed derived from
    # the run's (`derive_seed`), which uses the full range
    seed: int = Field(
        0, ge=0, lt=2**63, description="seed of the generator's training and sampling draws"
    )
