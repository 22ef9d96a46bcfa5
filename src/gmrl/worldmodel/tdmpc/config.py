"""Settings of the latent world-model agent: one default for every task.

The defaults follow TD-MPC2's single configuration, scaled down for a CPU (smaller networks,
fewer planning samples and iterations), except the model's state, by default the standardised
observation itself, planned 8 steps ahead (`dynamics: latent` is TD-MPC2's learned latent), and
TD targets that bootstrap 5 imagined steps past the real bootstrap state (`value_expansion`);
nothing in them is about one task. The discount, like
TD-MPC2's, is derived from the env's episode length when `discount` is left at None.
"""

from typing import Literal

from pydantic import Field, model_validator

from gmrl.core.config import StrictModel


class TDMPCConfig(StrictModel):
    """Model, training and planning settings of `TDMPCAgent` (every float must be finite)."""

    # ---------------------------------------------------------------- model
    dynamics: Literal["latent", "state"] = Field(
        default="state",
        description="state (the default): the latent is the standardised observation itself and "
        "the dynamics predict its change (no encoder, no decoder; each imagined state can be "
        "read, and an 8-step plan stays grounded); latent: TD-MPC2's learned encoder and "
        "SimNorm latent (plan it with plan_horizon: null, the training horizon: measured better "
        "than longer plans through it)",
    )
    latent_dim: int = Field(
        default=64, ge=8, description="latent size, a multiple of simnorm_dim (dynamics=latent)"
    )
    simnorm_dim: int = Field(default=8, ge=2, description="SimNorm group size (dynamics=latent)")
    hidden: int = Field(default=128, ge=8, description="width of every MLP")
    encoder_layers: int = Field(default=2, ge=1, description="hidden layers of the encoder")
    num_q: int = Field(default=5, ge=2, description="Q-functions in the ensemble")
    target_heads: int = Field(
        default=2, ge=1,
        description="Q heads drawn at random for each TD target, which takes their minimum "
        "(TD-MPC2: 2; up to num_q: more pessimistic where the heads disagree)",
    )
    bins: int = Field(default=101, ge=3, description="two-hot bins of reward and value")
    vmin: float = Field(default=-10.0, description="lowest bin, symlog space")
    vmax: float = Field(default=10.0, description="highest bin, symlog space")
    dropout: float = Field(
        default=0.0, ge=0, lt=1,
        description="Q-function dropout (TD-MPC2: 0.01; off by default: it cost a fifth of an "
        "update on a CPU)",
    )
    # ---------------------------------------------------------------- training
    lr: float = Field(default=3e-4, gt=0)
    encoder_lr_scale: float = Field(default=0.3, gt=0, description="encoder lr multiplier")
    batch_size: int = Field(default=128, ge=1, description="sequences per update (TD-MPC2: 256)")
    horizon: int = Field(default=3, ge=1, description="model rollout length in training/planning")
    rho: float = Field(default=0.5, gt=0, le=1, description="weight decay of later rollout steps")
    consistency_coef: float = Field(default=20.0, ge=0)
    reward_coef: float = Field(default=0.1, ge=0)
    value_coef: float = Field(default=0.1, ge=0)
    termination_coef: float = Field(default=1.0, ge=0)
    decoder_coef: float = Field(
        default=1.0, ge=0,
        description="weight of predicting the standardised next observation from the model's "
        "latent (0: TD-MPC2's decoder-free model)",
    )
    entropy_coef: float = Field(default=1e-4, ge=0, description="policy entropy bonus")
    prior_imitation: float = Field(
        default=0.0, ge=0,
        description="weight of the policy prior's log-likelihood of the actions the agent took "
        "(the planner's, stored in the buffer) beside its Q objective (0: off, TD-MPC2). The "
        "prior seeds the plans and is the policy whose Q the TD targets bootstrap, so a prior "
        "that lags the planner makes Q undervalue what planning reaches (TD-M(PC)^2, Lin et "
        "al. 2025)",
    )
    tau: float = Field(default=0.01, gt=0, le=1, description="target Q Polyak rate")
    td_steps: int | None = Field(
        default=None, ge=1, le=1000,
        description="real rewards summed before bootstrapping. None: to the end of the sampled "
        "sequence (position t of `horizon` sums horizon - t, so every target bootstraps at the "
        "same state; the best of those measured on CartPole, docs/BENCHMARKS.md); n: n along "
        "the stored episode, past the sequence if need be (TD-MPC2: 1). Sums stop at "
        "terminations, time-limit ends and the newest step",
    )
    return_bound: int | None = Field(
        default=None, ge=1, le=1000,
        description="real rewards in a second, longer n-step return that bounds every TD "
        "target from below (the target is the larger of the two; optimality tightening, He "
        "et al. 2017, and self-imitation, Oh et al. 2018): what the agent has actually "
        "collected is a floor for what its states are worth, so a rare large reward (a flag "
        "reached once) reaches the value without long targets everywhere, while an old, "
        "worse behaviour's short returns never pull a target down. Bootstrapped with the "
        "target Q at the prior's action. None: off. 50, 3 seeds: MountainCarContinuous held "
        "on 3 of 3 where the default falls back on all 3 (docs/BENCHMARKS.md, 'A floor under "
        "every TD target')",
    )
    return_bound_kind: Literal["bootstrapped", "exact"] = Field(
        default="bootstrapped",
        description="which long returns bound the targets: bootstrapped, every one (its sum "
        "plus the discounted target value where it stops); exact, only those that end in a "
        "termination within `return_bound` steps (a goal reached, a fall): the whole "
        "discounted return collected, no value estimate in it, and nothing changes on a task "
        "without terminations. Exact: CartPole held on 3 of 3 seeds (the default 1 of 3); "
        "bootstrapped: dips on Pendulum, where it raises about half the targets",
    )
    value_expansion: int = Field(
        default=5, ge=0, le=50,
        description="imagined steps in every TD target (model-based value expansion): the "
        "target bootstraps at the model's state that many policy steps past the real "
        "bootstrap state, summing the predicted rewards (discounted, times the predicted "
        "survival) on the way, so value spreads that many steps further per update. 5 (the "
        "default): CartPole on 5 of 5 seeds where 0 reached 2, Acrobot's median 2,000 steps "
        "against 3,000 (docs/BENCHMARKS.md); 0: bootstrap at the real state (TD-MPC2)",
    )
    bootstrap_action: Literal["prior", "taken"] = Field(
        default="prior",
        description="the action Q is bootstrapped at in every TD target. prior (TD-MPC2): the "
        "policy prior's, after `value_expansion` imagined prior steps, so Q values the prior; "
        "taken: the action the agent took at the bootstrap state (the planner's, stored in the "
        "buffer), so Q values the agent's own behaviour, as v1's value is fitted to its own "
        "returns; a planner far ahead of its prior is then not undervalued at its horizon. "
        "Where no action was taken there (a time-limit end, the newest step) the prior's. "
        "Measured on DMC swing-up: 341 / 190 at 10k against prior's 280 / 618, whose Q was "
        "already right about the planner's returns (docs/BENCHMARKS.md)",
    )
    absorbing: bool = Field(
        default=True,
        description="train on the absorbing terminal state: a sampled sequence's steps after a "
        "termination hold the terminal observation with reward 0, value 0 and dynamics that "
        "stay put (off: those steps are left out, and the value and dynamics there untrained; "
        "measured on 7 runs of 3 tasks with terminations: 4 reach their threshold with it, 1 "
        "without, docs/BENCHMARKS.md; no effect on tasks without terminations)",
    )
    grad_clip: float = Field(default=20.0, gt=0)
    discount: float | None = Field(
        default=None, gt=0, lt=1,
        description="None: from the episode length T, (T/5 - 1)/(T/5) clipped to [0.95, 0.995]",
    )
    seed_steps: int = Field(
        default=250, ge=1, description="random real steps before learning starts"
    )
    updates_per_step: float = Field(
        default=1.0, gt=0, description="gradient updates per real step (fractions allowed)"
    )
    buffer_size: int = Field(default=1_000_000, ge=10)
    holdout_fraction: float = Field(
        default=0.05, ge=0, lt=0.5,
        description="share of episodes kept out of training to score reward and termination",
    )
    compile: bool = Field(
        default=False,
        description="torch.compile the model's losses and the planner's scoring (about 40 s "
        "to compile on a 2-core CPU, then 12-21 % cheaper per step: worth it for runs of "
        "thousands of steps; on a CPU it needs a C++ compiler)",
    )
    explore: float = Field(
        default=0.0, ge=0,
        description="weight of the novelty bonus while training (0: off): each imagined step "
        "of a plan earns explore x the real rewards' spread x the disagreement of "
        "`explore_heads` one-step predictors fitted to real transitions (v1's rule), so plans "
        "toward states not yet seen score higher; the bonus fades as the heads agree. Never "
        "used when acting deterministically (evaluation). 1 with noise_beta 2 (v1's "
        "exploration): DMC swing-up 412 / 801 at 10k against 280 / 618 without, six suite "
        "tasks level or ahead, but MountainCar-v0 on 1 of 3 seeds against 3 of 3 "
        "(docs/BENCHMARKS.md); an MPPI iteration costs about 1.4x as much",
    )
    explore_heads: int = Field(
        default=5, ge=2, description="novelty heads whose disagreement is the bonus (explore > 0)"
    )
    noise_beta: float = Field(
        default=0.0, ge=0, le=4,
        description="colored noise for Box actions (0: white, TD-MPC2; 2: v1's iCEM value): "
        "MPPI's candidate sequences get a 1/f^beta spectrum along the plan, and the random "
        "seed steps are one such sequence, so both push one way for a while (a swing, a "
        "climb) where white noise jitters in place",
    )
    # ---------------------------------------------------------------- acting
    act: Literal["plan", "policy"] = Field(
        default="plan", description="plan (MPPI through the model) or policy (the prior alone)"
    )
    plan_horizon: int | None = Field(
        default=8, ge=1,
        description="steps MPPI plans ahead before Q bootstraps (None: the training horizon). "
        "8 with state dynamics balanced CartPole and Acrobot where 3 did not",
    )
    iterations: int = Field(default=3, ge=1, description="most MPPI iterations per real step")
    prior_stop: float | None = Field(
        default=0.05, ge=0, le=10,
        description="stop refining the plan once the policy prior's best proposal trails the "
        "best candidate by at most this many units of Q's spread (0: only when a proposal is "
        "the best; None: always run every iteration). A proposal that close weighs almost as "
        "much as the best in MPPI's average, so more iterations change little",
    )
    plan_action: Literal["elite", "mean"] = Field(
        default="elite",
        description="the Box action a plan executes: elite (TD-MPC2's choice, the top-scored "
        "candidate's first action) or mean (the score-weighted mean of the elites' first "
        "actions, MPPI's and v1's CEM's: smoother; DMC swing-up, same weights: 290 against "
        "283)",
    )
    samples: int = Field(default=128, ge=2, description="MPPI samples per iteration")
    policy_samples: int = Field(default=16, ge=0, description="samples drawn from the policy")
    elites: int = Field(default=16, ge=1)
    temperature: float = Field(default=0.5, gt=0)
    min_std: float = Field(default=0.05, gt=0)
    max_std: float = Field(default=2.0, gt=0)
    min_prob: float = Field(
        default=0.02, ge=0, lt=1, description="floor of a Discrete action's plan probability"
    )

    @model_validator(mode="after")
    def _consistent(self) -> "TDMPCConfig":
        if self.dynamics == "latent" and self.latent_dim % self.simnorm_dim:
            raise ValueError(f"latent_dim ({self.latent_dim}) must be a multiple of simnorm_dim "
                             f"({self.simnorm_dim})")
        if self.elites > self.samples + self.policy_samples:
            raise ValueError(f"elites ({self.elites}) must not exceed samples + policy_samples "
                             f"({self.samples + self.policy_samples})")
        if self.target_heads > self.num_q:
            raise ValueError(f"target_heads ({self.target_heads}) must not exceed num_q "
                             f"({self.num_q})")
        return self
