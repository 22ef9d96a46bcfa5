"""KL-regularised reward tuning of any `AutoregressiveModel` (RL fine-tuning of a generator).

The generator is a policy over tokens. Each step samples a batch, scores it with the user's
reward, and pushes the policy toward higher reward while a per-token KL penalty to a frozen copy
of the pre-trained model keeps it close to what it learned from data (Jaques et al. 2017,
Ziegler et al. 2019):

    r_t = step_reward_t - beta * (log pi(x_t | x_<t) - log p_ref(x_t | x_<t)),
    r_{T-1} += reward_fn(x),        G_t = sum_{s >= t} r_s.

Estimators of the gradient of E[G_0]:

- "reinforce": REINFORCE on the returns-to-go with a moving-average or learned baseline;
- "rloo": REINFORCE with the leave-one-out mean of the other k-1 samples of the same group
  (same prompt) as the baseline (Kool et al. 2019; Ahmadian et al. 2024);
- "ppo": clipped importance ratios, a few epochs of minibatches over each sampled batch.

Rewards that can be scored for every alternative token at once (`every_action_reward_fn`,
`(B, T) -> (B, T, V)`: what each token would earn at each position after the sampled prefix) are
followed exactly where they are earned: their expected value sum_a pi(a|s_t) r(s_t, a) is
differentiated at every visited position and the sampled token's own share leaves its estimator
(the "all-action" or expected policy gradient, Asadi et al. 2017; Ciosek & Whiteson 2018). The
estimate stays unbiased, and a penalty on actions the policy samples once in 10,000 still pushes
them down at every step rather than only when one happens to be drawn.

A `LogitGuide` (`guide=`) goes further for such rewards: its offsets (typically r / beta, the
immediate part of the KL-regularised optimum p exp(Q / beta)) are added to the policy's logits
in sampling and in every score, so the tuned policy is softmax(network + offsets), the KL is that
policy's, and the network learns only what the guide does not know. Sampling from the result
later must apply the same guide (`model.sample(..., guide=guide)`).

```python
tuner = RewardTuner(model, reward_fn, TunerConfig(estimator="rloo", beta=0.05, kl_limit=20))
history = tuner.train(200)          # list of per-step diagnostics
```

Every step reports the reward, the KL to the reference, the batch's log p under the reference
(`ref_log_p`, per sequence), the policy entropy and distinct-n, so
reward hacking (reward up, KL and diversity collapsing) is visible as it happens. A non-finite
reward, loss, gradient or weight, or an update after which the KL (measured on the step's batch)
exceeds `kl_limit`, stops tuning with a `TuningStopped` error after restoring the weights from
before that step; so does a sampled batch with fewer distinct sequences than `min_unique`
(collapse, restoring the weights of the last batch that passed). Before that, with
`concentration_factor`, the guard backs off instead of stopping when the policy starts building
its sequences around one phrase (see `CollapseDetected`). A run directory's checkpoints are
only ever written after good steps, so the last one on disk is the last good state. The policy is
kept in eval mode (no dropout) so sampled and scored probabilities agree.
"""

import copy
import math
from collections.abc import Callable
from typing import Any, Literal

import torch
from pydantic import Field, model_validator
from torch import nn
from torch.nn import functional as F

from gmrl.core.config import NonNegativeFloat, PositiveFloat, StrictModel
from gmrl.core.errors import GmrlError
from gmrl.core.loop import TrainingLoop
from gmrl.core.rundir import RunDir
from gmrl.generative.autoregressive import AutoregressiveModel
from gmrl.generative.logit_guide import LogitGuide
from gmrl.rl.policy_gradient.losses import discounted_returns, policy_gradient_loss
from gmrl.sequence.diversity import distinct_n, self_bleu, top_ngram_share, unique_fraction
from gmrl.sequence.kl_control import AdaptiveKLController, FixedKLController
from gmrl.sequence.tuning_baselines import LearnedBaseline, MovingAverageBaseline

RewardFn = Callable[[torch.Tensor], torch.Tensor]
StepCallback = Callable[[int, dict[str, float]], None]


class TuningStopped(GmrlError):
    """Tuning stopped on a bad step; the weights from before that step were restored."""

    def __init__(self, message: str, step: int, metrics: dict[str, float] | None = None) -> None:
        super().__init__(message)
        self.step = step
        self.metrics = metrics or {}


class KLLimitExceeded(TuningStopped):
    """The policy drifted further from the reference than `kl_limit` allows."""


class NonFiniteLoss(TuningStopped):
    """A reward, loss or gradient became NaN or infinite."""


class CollapseDetected(TuningStopped):
    """The collapse guard fired (reward hacking by collapse onto a few outputs).

    Rule: at every step, before any update, the batch just sampled is checked; when its share
    of distinct sequences is below `TunerConfig.min_unique` (0.99 with a batch of 64, as the
    music configs ship it, stops at the first composition sampled twice), tuning stops and the
    weights that sampled the last batch that passed (one update before the failing batch's) are
    restored; `step` is the number of updates behind them. The guard sees only exact copies of
    whole sequences within one batch: bars copied inside sequences, or copies of training data,
    are measured afterwards (`gmrl.music.copying`), not guarded. A caller must report a run it
    stopped as stopped, never as finished (the music recipe logs `tune/stopped_early` and
    `tune/steps_kept`; its benchmark fails the targets of such a seed).

    Earlier signal, with `concentration_factor` set (back-off instead of a stop): at every step,
    after sampling and before any update, the share of the last `concentration_window` batches'
    sequences (pooled) that hold their most common `concentration_n`-gram
    (`gmrl.sequence.diversity.top_ngram_share`) is compared with the same share in as many of
    the reference model's own samples, measured once before the first step (the mean of 4
    pools). Above `concentration_factor` times the reference's share, the step makes no update:
    the weights (and baseline) that sampled the oldest pooled batch are restored, undoing the
    updates that built the phrase, Adam's moments are reset, beta is multiplied by `backoff` and
    never goes below that raised value again (`beta_floor`), the pool is emptied (checked again
    once it is full), and tuning goes on. With back-offs on, a batch under `min_unique` is one
    more trip (backed off, not stopped); the `max_backoffs + 1`-th trip of either kind stops
    tuning as above. The pool keeps `concentration_window` snapshots of the weights and optimizer.
    A growing phrase share is what a collapse looks like before any two sequences coincide
    (measured on RL Tuner's music reward, docs/music.md: one 12-event phrase in 5-14 % of each
    batch, then 23 %, 38 %, 66 % and 77 % four steps apart, the first repeated sequence 20
    steps after the share passed 3 x the Note-RNN's)."""


class TunerConfig(StrictModel):
    """How the tuner samples, estimates gradients and guards against drift."""

    estimator: Literal["reinforce", "rloo", "ppo"] = Field("rloo", description="gradient estimator")
    batch_size: int = Field(64, ge=2, description="sequences sampled per step")
    group_size: int = Field(
        4, ge=1, description="samples per prompt/group (rloo leave-one-out; divides batch_size)"
    )
    lr: PositiveFloat = Field(1e-3, description="Adam learning rate of the policy")
    grad_clip: NonNegativeFloat = Field(1.0, description="max gradient norm (0 = no clipping)")
    beta: NonNegativeFloat = Field(
        0.05, description="KL penalty coefficient (start value if adaptive)"
    )
    target_kl: PositiveFloat | None = Field(
        None, description="turns on the adaptive KL controller aiming at this KL per sequence"
    )
    reference_temperature: PositiveFloat = Field(
        1.0,
        description="stay close to the reference sampled at this temperature: 1 is the reference "
        "itself; below 1 a sharper target (mode-seeking: samples the reference finds likelier, "
        "less diverse); the logged `kl` is always to the reference itself",
    )
    kl_horizon: int = Field(1000, gt=0, description="adaptive controller horizon (in samples)")
    kl_limit: PositiveFloat | None = Field(
        None, description="stop (restoring the previous weights) above this KL per sequence"
    )
    min_unique: float | None = Field(
        None, gt=0, le=1,
        description="stop when a sampled batch's fraction of distinct sequences falls below this "
        "(collapse onto a few outputs), restoring the weights of the last batch above it (with "
        "concentration_factor set: back off instead, see max_backoffs)",
    )
    concentration_factor: PositiveFloat | None = Field(
        None,
        description="back off (restore the last good weights, multiply beta by `backoff`) when "
        "the share of the last `concentration_window` batches' sequences holding their most "
        "common `concentration_n`-gram exceeds this factor x the reference model's own share",
    )
    concentration_n: int = Field(8, ge=1, description="n-gram length of the concentration check")
    concentration_window: int = Field(
        4, ge=1, description="batches pooled for the concentration check"
    )
    backoff: float = Field(2.0, gt=1, description="beta multiplier on a back-off")
    max_backoffs: int = Field(
        5, ge=0, description="back-offs allowed before a trip (concentration or min_unique) "
        "stops tuning",
    )
    baseline: Literal["moving_average", "learned"] = Field(
        "moving_average", description="baseline for reinforce and ppo"
    )
    baseline_decay: float = Field(0.9, ge=0, lt=1, description="moving-average decay")
    value_lr: PositiveFloat = Field(1e-2, description="learned baseline's learning rate")
    normalize_advantages: bool = Field(True, description="whiten advantages over the batch")
    entropy_coef: NonNegativeFloat = Field(
        0.0, description="bonus on the policy's per-token entropy"
    )
    ppo_epochs: int = Field(4, ge=1, description="passes over each batch (ppo)")
    ppo_minibatches: int = Field(2, ge=1, description="minibatches per pass (ppo)")
    clip_ratio: PositiveFloat = Field(0.2, description="PPO ratio clipping")
    diversity_n: list[int] = Field([1, 2], description="report distinct-n for these n")
    self_bleu: bool = Field(True, description="report self-BLEU-4 of each batch")

    @model_validator(mode="after")
    def _check_groups(self) -> "TunerConfig":
        if self.batch_size % self.group_size:
            raise ValueError(
                f"batch_size {self.batch_size} must be a multiple of group_size {self.group_size}"
            )
        if self.estimator == "rloo" and self.group_size < 2:
            raise ValueError("estimator 'rloo' needs group_size >= 2 (leave-one-out)")
        if self.estimator == "ppo" and self.batch_size < self.ppo_minibatches:
            raise ValueError("ppo_minibatches cannot exceed batch_size")
        return self


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (values * mask).sum() / mask.sum().clamp_min(1.0)


class RewardTuner:
    """Fine-tune `policy` toward `reward_fn` with a KL penalty to a frozen reference.

    Args:
        policy: the pre-trained model; tuned in place.
        reward_fn: `tokens (B, T) -> (B,)` reward of whole sequences.
        config: a `TunerConfig` (defaults when omitted).
        step_reward_fn: optional `tokens (B, T) -> (B, T)` reward for each position (credited to
            the token at that position; used for partial-sequence rewards).
        every_action_reward_fn: optional `tokens (B, T) -> (B, T, V)`: the part of
            `step_reward_fn` that can be scored for every token of the vocabulary at each
            position (given the sampled prefix); its gradient is then taken exactly (see the
            module doc). Gathered at the sampled tokens it must be included in `step_reward_fn`.
        guide: optional `LogitGuide` whose offsets are part of the tuned policy (module doc).
        reference: the model to stay close to (default: a frozen copy of `policy` as given).
        prompts: optional `(P, k)` prefixes; each step completes `batch_size // group_size` of them
            `group_size` times (only generated positions are trained and penalised).
        generator: torch generator for sampling (reproducible runs).
    """

    def __init__(
        self,
        policy: AutoregressiveModel,
        reward_fn: RewardFn,
        config: TunerConfig | None = None,
        *,
        step_reward_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
        every_action_reward_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
        guide: LogitGuide | None = None,
        reference: AutoregressiveModel | None = None,
        prompts: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        if not isinstance(policy, AutoregressiveModel):
            raise TypeError(f"RewardTuner tunes AutoregressiveModels, got {type(policy).__name__}")
        self.config = config or TunerConfig()
        self.policy = policy.eval()
        self.reward_fn = reward_fn
        self.step_reward_fn = step_reward_fn
        if every_action_reward_fn is not None and step_reward_fn is None:
            raise ValueError("every_action_reward_fn needs the step_reward_fn it is part of")
        self.every_action_reward_fn = every_action_reward_fn
        self.guide = guide
        self.reference = copy.deepcopy(policy if reference is None else reference).eval()
        self.reference.to(policy.device).requires_grad_(False)
        self.generator = generator if generator is not None else torch.Generator()
        if prompts is not None:
            if prompts.dim() != 2 or prompts.shape[1] >= policy.seq_len:
                raise ValueError(f"prompts must be (P, k) with k < seq_len={policy.seq_len}")
            prompts = prompts.long().to(policy.device)
        self.prompts = prompts
        cfg = self.config
        self.optimizer = torch.optim.Adam(policy.parameters(), lr=cfg.lr)
        self.baseline: LearnedBaseline | MovingAverageBaseline = (
            LearnedBaseline(policy.vocab_size, policy.seq_len, lr=cfg.value_lr)
            if cfg.baseline == "learned"
            else MovingAverageBaseline(policy.seq_len, decay=cfg.baseline_decay)
        ).to(policy.device)
        self.kl_controller = (
            AdaptiveKLController(cfg.beta, cfg.target_kl, cfg.kl_horizon)
            if cfg.target_kl is not None
            else FixedKLController(cfg.beta)
        )
        self.step_count = 0
        self.history: list[dict[str, float]] = []
        self._previous: dict[str, Any] | None = None  # the last step's snapshot (collapse guard)
        self.backoffs = 0  # concentration back-offs so far
        self.beta_floor = 0.0  # beta never goes below this after a back-off
        self._pool: list[torch.Tensor] = []  # the last batches, for the concentration check
        self._pool_snapshots: list[dict[str, Any]] = []  # the weights that sampled them
        self.reference_share = (
            self._reference_share() if self.config.concentration_factor is not None else None
        )

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: weights, optimizers, baseline, beta, step, RNG."""
        state: dict[str, Any] = {
            "policy": dict(self.policy.state_dict()),
            "reference": dict(self.reference.state_dict()),
            "optimizer": self.optimizer.state_dict(),
            "baseline": dict(self.baseline.state_dict()),
            "beta": self.kl_controller.beta,
            "step": self.step_count,
            "generator": self.generator.get_state(),
            "backoffs": self.backoffs,
            "beta_floor": self.beta_floor,
        }
        if isinstance(self.baseline, LearnedBaseline):
            state["baseline_optimizer"] = self.baseline.optimizer.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned."""
        self.policy.load_state_dict(state["policy"])
        self.reference.load_state_dict(state["reference"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.baseline.load_state_dict(state["baseline"])
        if isinstance(self.baseline, LearnedBaseline) and "baseline_optimizer" in state:
            self.baseline.optimizer.load_state_dict(state["baseline_optimizer"])
        self.kl_controller.beta = float(state["beta"])
        self.step_count = int(state["step"])
        self.generator.set_state(state["generator"])
        self.backoffs = int(state.get("backoffs", 0))
        self.beta_floor = float(state.get("beta_floor", 0.0))

    def _snapshot(self) -> dict[str, Any]:
        state = self.state_dict()
        state.pop("reference")  # frozen: never changes
        return copy.deepcopy(state)

    def _restore(self, snapshot: dict[str, Any]) -> None:
        self.load_state_dict({**snapshot, "reference": self.reference.state_dict()})

    # ------------------------------------------------------------------ one step
    def _reference_share(self) -> float:
        """The reference model's own phrase share (`CollapseDetected`): the mean over 4 pools of
        `concentration_window` batches, sampled from a stream derived from the tuner's seed (the
        tuner's own stream is not touched)."""
        cfg = self.config
        draws = torch.Generator()
        draws.manual_seed((self.generator.initial_seed() + 104_729) % 2**63)
        shares = []
        for _ in range(4):
            pool = [self._sample(self.reference, None, draws)[0]
                    for _ in range(cfg.concentration_window)]
            shares.append(top_ngram_share(torch.cat(pool), cfg.concentration_n))
        return sum(shares) / len(shares)

    def _sample(
        self, model: AutoregressiveModel | None = None, guide: LogitGuide | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """A batch of sequences and the mask of positions the policy generated (by default
        from the guided policy on the tuner's stream)."""
        cfg = self.config
        policy = self.policy if model is None else model
        guide = self.guide if model is None else guide
        generator = self.generator if generator is None else generator
        prefix = None
        if self.prompts is not None:
            groups = cfg.batch_size // cfg.group_size
            pick = torch.randint(len(self.prompts), (groups,), generator=generator)
            prefix = self.prompts[pick.to(self.prompts.device)]
        with torch.no_grad():
            tokens = policy.sample(cfg.batch_size, generator=generator, prefix=prefix, guide=guide)
        mask = torch.ones(tokens.shape, device=tokens.device)
        if prefix is not None:
            mask[:, : prefix.shape[1]] = 0.0
        return tokens, mask

    def _stop(self, error: type[TuningStopped], why: str, snapshot: Any, metrics: Any) -> None:
        """Restore the pre-step state and raise `error` with a one-line message and a remedy."""
        self._restore(snapshot)
        remedy = {
            KLLimitExceeded: "lower lr, raise beta or raise kl_limit",
            CollapseDetected: "raise beta or entropy_coef, or weigh the hacked reward term less",
        }.get(error, "check reward_fn for NaN/inf values, or lower lr")
        raise error(
            f"tuning stopped at step {self.step_count + 1}: {why}; the weights from before "
            f"that step were restored ({remedy})",
            self.step_count,
            metrics,
        )

    def _offsets(self, tokens: torch.Tensor) -> torch.Tensor | None:
        """The guide's `(B, T, V)` offsets of a sampled batch (None without a guide)."""
        if self.guide is None:
            return None
        with torch.no_grad():
            offsets = torch.as_tensor(self.guide.offsets(tokens)).to(tokens.device, torch.float32)
        expected = (*tokens.shape, self.policy.vocab_size)
        if offsets.shape != expected:
            raise ValueError(f"guide offsets must have shape {expected}, got {offsets.shape}")
        return offsets

    def _log_policy(self, tokens: torch.Tensor, offsets: torch.Tensor | None) -> torch.Tensor:
        """`(B, T, V)` log-probabilities of the (guided) policy, differentiable."""
        logits = self.policy.sequence_logits(tokens)
        return F.log_softmax(logits if offsets is None else logits + offsets, dim=-1)

    def _scores(
        self, tokens: torch.Tensor, offsets: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Per-token log-probs, exact KL to the reference (and to the tempered target the
        penalty uses), entropy and the full log-policy under the current policy."""
        with torch.no_grad():
            log_pi = self._log_policy(tokens, offsets)
            ref_logits = self.reference.sequence_logits(tokens)
            log_ref = F.log_softmax(ref_logits, dim=-1)
            temperature = self.config.reference_temperature
            log_target = (
                log_ref if temperature == 1.0 else F.log_softmax(ref_logits / temperature, dim=-1)
            )
        probs = log_pi.exp()
        index = tokens.unsqueeze(-1)
        return {
            "logp": log_pi.gather(-1, index).squeeze(-1),
            "target_logp": log_target.gather(-1, index).squeeze(-1),
            "ref_logp": log_ref.gather(-1, index).squeeze(-1),
            "kl": (probs * (log_pi - log_ref)).sum(-1),
            "kl_target": (probs * (log_pi - log_target)).sum(-1),
            "entropy": -(probs * log_pi).sum(-1),
            "log_target": log_target,
            "log_pi": log_pi,
        }

    def _rewards(self, tokens: torch.Tensor) -> torch.Tensor:
        reward = torch.as_tensor(self.reward_fn(tokens)).to(tokens.device, torch.float32)
        if reward.shape != (len(tokens),):
            raise ValueError(
                f"reward_fn must return shape ({len(tokens)},), got {tuple(reward.shape)}"
            )
        return reward

    def _advantages(
        self, tokens: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, float, float]:
        """Advantages (masked), the baseline's loss and the factor they were divided by."""
        cfg = self.config
        value_loss, scale = float("nan"), 1.0
        if cfg.estimator == "rloo":
            k = cfg.group_size
            grouped = returns.view(-1, k, returns.shape[1])
            others = (grouped.sum(1, keepdim=True) - grouped) / (k - 1)
            advantages = (grouped - others).view_as(returns)
        else:
            with torch.no_grad():
                advantages = returns - self.baseline.predict(tokens)
            value_loss = self.baseline.update(tokens, returns, mask)
        if cfg.normalize_advantages:
            mean = _masked_mean(advantages, mask)
            std = _masked_mean((advantages - mean) ** 2, mask).sqrt()
            scale = float(std) + 1e-8
            advantages = (advantages - mean) / scale
        return advantages * mask, value_loss, scale

    def _optimise(self, loss: torch.Tensor, snapshot: Any, metrics: dict[str, float]) -> float:
        if not torch.isfinite(loss):
            self._stop(NonFiniteLoss, "the policy loss is not finite", snapshot, metrics)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        limit = self.config.grad_clip if self.config.grad_clip > 0 else math.inf
        norm = float(nn.utils.clip_grad_norm_(self.policy.parameters(), limit))
        if not math.isfinite(norm):
            self._stop(NonFiniteLoss, "a gradient is not finite", snapshot, metrics)
        self.optimizer.step()
        return norm

    def _policy_terms(
        self, tokens: torch.Tensor, offsets: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log-prob of each sampled token, per-position entropy and the full log-policy."""
        log_pi = self._log_policy(tokens, offsets)
        logp = log_pi.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
        entropy = -(log_pi.exp() * log_pi).sum(-1)
        return logp, entropy, log_pi

    @staticmethod
    def _expected_reward(
        log_pi: torch.Tensor, every: torch.Tensor | None, mask: torch.Tensor
    ) -> torch.Tensor:
        """Mean over positions of sum_a pi(a|s_t) r(s_t, a) (0 without an every-action reward)."""
        if every is None:
            return log_pi.new_zeros(())
        return _masked_mean((log_pi.exp() * every).sum(-1), mask)

    def step(self) -> dict[str, float]:
        """Sample, score, update once (or `ppo_epochs` times); return the step's diagnostics."""
        cfg = self.config
        snapshot = self._snapshot()
        tokens, mask = self._sample()
        offsets = self._offsets(tokens)
        scores = self._scores(tokens, offsets)
        penalised_kl = float((scores["kl_target"] * mask).sum(1).mean())
        beta = self.kl_controller.beta
        metrics: dict[str, float] = {
            "kl": float((scores["kl"] * mask).sum(1).mean()),
            "kl_sample": float(((scores["logp"] - scores["target_logp"]) * mask).sum(1).mean()),
            "ref_log_p": float((scores["ref_logp"] * mask).sum(1).mean()),
            "entropy": float(_masked_mean(scores["entropy"], mask)),
            "beta": beta,
            "unique": unique_fraction(tokens),
        }
        duplicates = None
        if cfg.min_unique is not None and metrics["unique"] < cfg.min_unique:
            duplicates = (f"the batch of step {self.step_count + 1} held only "
                          f"{metrics['unique']:.0%} distinct sequences (min_unique "
                          f"{cfg.min_unique:g})")
            if cfg.concentration_factor is None:  # without back-offs, a duplicate stops
                self._stop(CollapseDetected, duplicates, self._previous or snapshot, metrics)
        if cfg.reference_temperature != 1.0:
            metrics["kl_target"] = penalised_kl
        for n in cfg.diversity_n:
            metrics[f"distinct_{n}"] = distinct_n(tokens, n)
        if cfg.self_bleu:
            metrics["self_bleu"] = self_bleu(tokens)
        reward = self._rewards(tokens)
        metrics["reward"] = float(reward.mean())
        metrics["objective"] = metrics["reward"] - beta * penalised_kl
        token_rewards = -beta * (scores["logp"] - scores["target_logp"]) * mask
        every = None
        if self.step_reward_fn is not None:
            step_rewards = torch.as_tensor(self.step_reward_fn(tokens)).to(token_rewards)
            metrics["step_reward"] = float((step_rewards * mask).sum(1).mean())
            token_rewards = token_rewards + step_rewards * mask
        token_rewards[:, -1] += reward
        if not torch.isfinite(token_rewards).all():
            self._stop(NonFiniteLoss, "the reward is not finite (NaN or inf)", snapshot, metrics)
        if self._concentrated(tokens, snapshot, metrics) or duplicates is not None:
            return self._back_off(snapshot, metrics, duplicates)
        returns = discounted_returns(token_rewards, gamma=1.0)
        if self.every_action_reward_fn is not None:
            every = self._every_action_rewards(tokens, scores["log_pi"], snapshot, metrics)
            own = every.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
            returns = returns - own * mask  # its gradient is taken exactly below
        advantages, value_loss, scale = self._advantages(tokens, returns, mask)
        if every is not None:
            every = every / scale  # in the units of the normalised advantages
        if not math.isnan(value_loss):
            metrics["value_loss"] = value_loss
        if cfg.estimator == "ppo":
            metrics.update(
                self._ppo_update(
                    tokens, mask, scores["logp"], advantages, every, offsets, snapshot
                )
            )
        else:
            logp, entropy, log_pi = self._policy_terms(tokens, offsets)
            loss = policy_gradient_loss(logp, advantages, mask)
            loss = loss - cfg.entropy_coef * _masked_mean(entropy, mask)
            loss = loss - self._expected_reward(log_pi, every, mask)
            metrics["grad_norm"] = self._optimise(loss, snapshot, metrics)
            metrics["policy_loss"] = float(loss.detach())
        self._check_after_update(tokens, mask, scores["log_target"], offsets, snapshot, metrics)
        self.kl_controller.update(penalised_kl, cfg.batch_size)
        self.step_count += 1
        self.history.append(metrics)
        self._previous = snapshot
        return metrics

    def _concentrated(
        self, tokens: torch.Tensor, snapshot: dict[str, Any], metrics: dict[str, float]
    ) -> bool:
        """Pool the batch and check the phrase share once the pool is full (`CollapseDetected`);
        logs `ngram_share` (the pool's) and `reference_share`."""
        cfg = self.config
        if cfg.concentration_factor is None or self.reference_share is None:
            return False
        self._pool = [*self._pool, tokens.detach()][-cfg.concentration_window:]
        self._pool_snapshots = [*self._pool_snapshots, snapshot][-cfg.concentration_window:]
        share = top_ngram_share(torch.cat(self._pool), cfg.concentration_n)
        metrics["ngram_share"] = share
        metrics["reference_share"] = self.reference_share
        metrics["backoffs"] = float(self.backoffs)
        full = len(self._pool) == cfg.concentration_window
        return full and share > cfg.concentration_factor * self.reference_share

    def _back_off(
        self, snapshot: dict[str, Any], metrics: dict[str, float], duplicates: str | None = None
    ) -> dict[str, float]:
        """No update this step: restore the weights that sampled the oldest batch of the pool
        (`concentration_window` updates back), multiply beta by `backoff` (and floor it there);
        stop after `max_backoffs`. `duplicates` says why when a duplicate tripped it."""
        cfg = self.config
        why = duplicates or (
            f"{metrics['ngram_share']:.0%} of the last {cfg.concentration_window} batches hold "
            f"one {cfg.concentration_n}-gram, over {cfg.concentration_factor:g} x the "
            f"reference's {self.reference_share:.1%}")
        if self.backoffs >= cfg.max_backoffs:
            self._stop(CollapseDetected, f"{why}, after {self.backoffs} back-offs",
                       self._previous or snapshot, metrics)
        good = self._pool_snapshots[0]
        self.policy.load_state_dict(good["policy"])
        self.optimizer.load_state_dict(good["optimizer"])
        self.optimizer.state.clear()  # no momentum toward the phrase: Adam starts afresh
        self.baseline.load_state_dict(good["baseline"])
        self.backoffs += 1
        self.beta_floor = max(self.beta_floor, self.kl_controller.beta * cfg.backoff)
        self.kl_controller.beta = self.beta_floor
        if hasattr(self.kl_controller, "min_beta"):
            self.kl_controller.min_beta = max(self.kl_controller.min_beta, self.beta_floor)
        self._pool, self._pool_snapshots = [], []
        self._previous = good
        metrics.update(backoff=1.0, backoffs=float(self.backoffs))
        self.step_count += 1
        self.history.append(metrics)
        return metrics

    def _every_action_rewards(
        self, tokens: torch.Tensor, log_pi: torch.Tensor, snapshot: Any,
        metrics: dict[str, float],
    ) -> torch.Tensor:
        """`(B, T, V)` every-action reward, checked; logs its expected value per sequence under
        the policy that sampled the batch (`log_pi`, from `_scores`)."""
        assert self.every_action_reward_fn is not None
        every = torch.as_tensor(self.every_action_reward_fn(tokens))
        every = every.to(tokens.device, torch.float32)
        expected = (*tokens.shape, self.policy.vocab_size)
        if every.shape != expected:
            raise ValueError(
                f"every_action_reward_fn must return shape {expected}, got {tuple(every.shape)}"
            )
        if not torch.isfinite(every).all():
            self._stop(NonFiniteLoss, "the every-action reward is not finite", snapshot, metrics)
        metrics["every_action_reward"] = float((log_pi.exp() * every).sum(-1).sum(1).mean())
        return every

    def _ppo_update(
        self, tokens: torch.Tensor, mask: torch.Tensor, old_logp: torch.Tensor,
        advantages: torch.Tensor, every: torch.Tensor | None, offsets: torch.Tensor | None,
        snapshot: Any,
    ) -> dict[str, float]:
        cfg = self.config
        losses, clipped, norms = [], [], []
        size = math.ceil(len(tokens) / cfg.ppo_minibatches)
        for _ in range(cfg.ppo_epochs):
            order = torch.randperm(len(tokens), generator=self.generator).to(tokens.device)
            for start in range(0, len(tokens), size):
                rows = order[start : start + size]
                part_offsets = None if offsets is None else offsets[rows]
                logp, entropy, log_pi = self._policy_terms(tokens[rows], part_offsets)
                ratio = torch.exp(logp - old_logp[rows])
                adv, part = advantages[rows], mask[rows]
                surrogate = torch.min(
                    ratio * adv, ratio.clamp(1 - cfg.clip_ratio, 1 + cfg.clip_ratio) * adv
                )
                bonus = cfg.entropy_coef * _masked_mean(entropy, part)
                exact = self._expected_reward(log_pi, None if every is None else every[rows], part)
                loss = -_masked_mean(surrogate, part) - bonus - exact
                norms.append(self._optimise(loss, snapshot, {}))
                losses.append(float(loss.detach()))
                outside = ((ratio - 1).abs() > cfg.clip_ratio).float()
                clipped.append(float(_masked_mean(outside, part)))
        return {
            "policy_loss": sum(losses) / len(losses),
            "clip_frac": sum(clipped) / len(clipped),
            "grad_norm": max(norms),
        }

    def _check_after_update(
        self, tokens: torch.Tensor, mask: torch.Tensor, log_target: torch.Tensor,
        offsets: torch.Tensor | None, snapshot: Any, metrics: dict[str, float],
    ) -> None:
        """Stop if the update made weights non-finite or jumped past `kl_limit` on this batch."""
        if not all(torch.isfinite(p).all() for p in self.policy.parameters()):
            self._stop(NonFiniteLoss, "the update produced non-finite weights", snapshot, metrics)
        with torch.no_grad():
            log_pi = self._log_policy(tokens, offsets)
            kl = (log_pi.exp() * (log_pi - log_target)).sum(-1)
            kl_after = float((kl * mask).sum(1).mean())
        metrics["kl_after"] = kl_after
        limit = self.config.kl_limit
        if limit is not None and not kl_after <= limit:
            self._stop(
                KLLimitExceeded,
                f"the update pushed the KL to the reference to {kl_after:.3g} > kl_limit {limit:g}",
                snapshot, metrics,
            )

    # ------------------------------------------------------------------ loop
    def train(
        self,
        steps: int,
        *,
        callback: StepCallback | None = None,
        loop: TrainingLoop | None = None,
        run: RunDir | None = None,
        checkpoint_every: int = 0,
        step_offset: int = 0,
        log_prefix: str = "tune/",
        extra_state: dict[str, Any] | None = None,
    ) -> list[dict[str, float]]:
        """Run `steps` tuning steps; returns their diagnostics.

        Bookkeeping goes through a `gmrl.core.loop.TrainingLoop`: each step ends with
        `loop.end_step(step_offset + step_count, {<log_prefix><name>: value})`, which logs it,
        checkpoints when the loop's schedule (or every `checkpoint_every` tuning steps) says so,
        and on Ctrl-C checkpoints and raises `RunInterrupted` after the current step. A stopped
        step (`TuningStopped`) raises before `end_step`, so a stop never overwrites the last good
        checkpoint. Pass the recipe's own `loop` (its `state()` must hold `state_dict()`), or just
        a `RunDir` as `run`: then a loop is made whose checkpoints hold
        `{"tuner": state_dict(), **extra_state}`. `callback(step, metrics)` sees every step
        before the loop does.
        """
        if loop is None and run is not None:
            extra = dict(extra_state or {})
            loop = TrainingLoop(
                run, total=step_offset + self.step_count + steps, description="tune",
                state=lambda: {**extra, "tuner": self.state_dict()},
                restore=lambda state: self.load_state_dict(state["tuner"]),
                metadata={"phase": "tune"},
            )
        done: list[dict[str, float]] = []
        for _ in range(steps):
            metrics = self.step()
            done.append(metrics)
            step = step_offset + self.step_count
            if callback is not None:
                callback(step, metrics)
            if loop is not None:
                boundary = checkpoint_every > 0 and self.step_count % checkpoint_every == 0
                loop.end_step(
                    step, {f"{log_prefix}{k}": v for k, v in metrics.items()},
                    info=f"reward {metrics['reward']:.3f} kl {metrics['kl']:.2f}",
                    checkpoint=True if boundary else None,
                )
        return done
