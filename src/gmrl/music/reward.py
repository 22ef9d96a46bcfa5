"""RL Tuner's music-theory reward as weighted, configurable terms, batched in torch.

`MusicTheoryReward(config)(events)` returns `(B, T)` rewards: entry t is the reward RL Tuner's
`reward_music_theory` gives the action `events[:, t]` played after `events[:, :t]` at beat t
(magenta/models/rl_tuner/rl_tuner.py, Jaques et al. 2017), the per-step signal its Q, Psi and G
learning use; `.total(events)` sums it over the composition for sequence-level tuners, and
`.terms(events)` splits it by rule. The nine rules and their RL Tuner amounts:

- `key` (`reward_key`): -1 for a note-on outside C major.
- `tonic` (`reward_tonic`): +3 for the tonic (middle C) at beat 0 and at beat T-4, for a hold
  at beat T-3, and for a rest or hold at each later beat.
- `repetition` (`reward_penalize_repeating`): -100 when `detect_repeating_notes` fires.
- `autocorrelation` (`reward_penalize_autocorrelation`): -3 x the sum of |coefficient| of prefix
  + action over lags 1, 2, 3, counting only those above 0.15.
- `motif` (`reward_motif`): +3, +0.3 per distinct note beyond 3, when the last 8 steps hold at
  least 3 distinct notes.
- `repeated_motif` (`reward_repeated_motif`): +4, +1 per distinct note beyond 3, when that bar
  occurred before, event for event.
- `intervals` (`reward_preferred_intervals`): 5 x the interval's value in `IntervalRewards`.
- `leaps` (`reward_leap_up_back`): +5 for a resolved leap, -5 for a doubled one.
- `extrema` (`reward_high_low_unique`): at the last step, +3 for a unique highest note and +3
  for a unique lowest note of the composition.

Each term is multiplied by its weight in `MusicRuleWeights` (1.0 reproduces RL Tuner; 0 turns a
rule off) and the sum by `scale`. RL Tuner adds `reward_scaler * music-theory reward` to the Note
RNN's log p(a|s): its class defaults to `reward_scaler=1.0`, its training script
(`rl_tuner_train.py`) to 0.1 (the paper's 1/c). `scale` defaults to 1.0, the raw reward; the
tuner that mixes it with log p owns that factor, so do not apply it twice.
"""

import torch
from pydantic import Field, field_validator

from gmrl.core.config import FiniteFloat, NonNegativeFloat, StrictModel
from gmrl.music import theory
from gmrl.music.encoding import (
    MAX_PITCH,
    MIN_PITCH,
    NO_EVENT,
    NOTE_OFF,
    NUM_EVENTS,
    pitch_to_event,
)

# Rules `every_action` / `next_action` can score for all 38 events at once, and the default.
SCORABLE_RULES = ("key", "repetition", "motif", "repeated_motif")
ACTION_RULES = ("key", "repetition")

TERMS = (
    "key",
    "tonic",
    "repetition",
    "autocorrelation",
    "motif",
    "repeated_motif",
    "intervals",
    "leaps",
    "extrema",
)


class MusicRuleWeights(StrictModel):
    """Multiplier of each rule's RL Tuner amount: 1.0 is RL Tuner, 0.0 switches the rule off."""

    key: FiniteFloat = 1.0
    tonic: FiniteFloat = 1.0
    repetition: FiniteFloat = 1.0
    autocorrelation: FiniteFloat = 1.0
    motif: FiniteFloat = 1.0
    repeated_motif: FiniteFloat = 1.0
    intervals: FiniteFloat = 1.0
    leaps: FiniteFloat = 1.0
    extrema: FiniteFloat = 1.0


class IntervalRewards(StrictModel):
    """RL Tuner's `reward_preferred_intervals` values (before its x5 `interval_scale`).

    Intervals not listed (unison, semitone, minor third, tritone, minor sixth, minor seventh,
    octave) get 0, as in RL Tuner."""

    rest: FiniteFloat = Field(default=0.05, description="note off after a note")
    hold: FiniteFloat = Field(default=0.075, description="no event after a note")
    rest_after_tonic_or_fifth: FiniteFloat = 0.15
    hold_after_tonic_or_fifth: FiniteFloat = 0.3
    in_key_fifth: FiniteFloat = Field(
        default=0.1, description="a fifth from the tonic or the fifth"
    )
    in_key_third: FiniteFloat = Field(
        default=0.15, description="a major third from the tonic or third"
    )
    second: FiniteFloat = Field(default=0.08, description="2 semitones")
    third: FiniteFloat = Field(default=0.09, description="4 semitones, not from the tonic or third")
    fourth: FiniteFloat = Field(default=0.07, description="5 semitones")
    fifth: FiniteFloat = Field(default=0.02, description="7 semitones, not from the tonic or fifth")
    sixth: FiniteFloat = Field(default=0.05, description="9 semitones")
    seventh: FiniteFloat = Field(default=-0.3, description="11 semitones")
    beyond_octave: FiniteFloat = Field(default=-1.0, description="more than 12 semitones")


class MusicRewardConfig(StrictModel):
    """Weights and parameters of RL Tuner's music-theory reward; defaults are RL Tuner's."""

    weights: MusicRuleWeights = Field(default_factory=MusicRuleWeights)
    scale: FiniteFloat = Field(
        default=1.0, description="multiplies the total (RL Tuner's reward_scaler)"
    )
    key_pitch_classes: tuple[int, ...] = Field(
        default=theory.C_MAJOR_PITCH_CLASSES, description="pitch classes in key (0 = C): C major"
    )
    tonic_pitch: int = Field(default=60, description="MIDI pitch of the tonic (RL Tuner: middle C)")
    key_penalty: NonNegativeFloat = 1.0
    tonic_reward: FiniteFloat = 3.0
    final_steps: int = Field(
        default=4, ge=1, description="the ending starts this many steps from the end"
    )
    repeat_penalty: NonNegativeFloat = 100.0
    max_repeats: int = Field(
        default=4, ge=0, description="repeats allowed with no rest or hold between"
    )
    max_repeats_broken: int = Field(
        default=6, ge=0, description="repeats allowed with rests or holds"
    )
    max_rests: int = Field(
        default=1, ge=0, description="earlier note-offs allowed before a note-off"
    )
    autocorrelation_penalty: NonNegativeFloat = 3.0
    autocorrelation_threshold: NonNegativeFloat = 0.15
    autocorrelation_lags: tuple[int, ...] = (1, 2, 3)
    bar_length: int = Field(default=8, ge=2, description="steps in which a motif is played")
    motif_min_notes: int = Field(default=3, ge=1)
    motif_reward: FiniteFloat = 3.0
    motif_bonus: FiniteFloat = Field(
        default=0.3, description="per distinct note beyond motif_min_notes"
    )
    repeated_motif_reward: FiniteFloat = 4.0
    repeated_motif_bonus: FiniteFloat = 1.0
    interval_scale: FiniteFloat = 5.0
    interval_rewards: IntervalRewards = Field(default_factory=IntervalRewards)
    leap_semitones: int = Field(default=7, ge=1)
    steps_between_leaps: int = Field(default=6, ge=0)
    leap_resolved_reward: FiniteFloat = 5.0
    leap_doubled_penalty: NonNegativeFloat = 5.0
    unique_extrema_reward: FiniteFloat = 3.0

    @field_validator("key_pitch_classes")
    @classmethod
    def _pitch_classes(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(not 0 <= pc < 12 for pc in value) or len(set(value)) != len(value):
            raise ValueError("must be distinct pitch classes in 0..11 (0 = C), e.g. [0, 2, 4]")
        return value

    @field_validator("tonic_pitch")
    @classmethod
    def _tonic(cls, value: int) -> int:
        if not MIN_PITCH <= value <= MAX_PITCH:
            raise ValueError(f"must be a MIDI pitch in {MIN_PITCH}..{MAX_PITCH}")
        return value

    @field_validator("autocorrelation_lags")
    @classmethod
    def _lags(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(lag < 1 for lag in value):
            raise ValueError("lags must be >= 1")
        return value


class MusicTheoryReward:
    """RL Tuner's music-theory reward for a `(B, T)` batch of event sequences (see module doc)."""

    def __init__(self, config: MusicRewardConfig | None = None) -> None:
        self.config = config or MusicRewardConfig()

    def __call__(self, events: torch.Tensor) -> torch.Tensor:
        """`(B, T)` float32 reward of each action given its prefix."""
        terms = self.terms(events)
        return torch.stack(list(terms.values())).sum(0)

    def total(self, events: torch.Tensor) -> torch.Tensor:
        """`(B,)` reward summed over the composition."""
        return self(events).sum(1)

    def terms(self, events: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each rule's `(B, T)` contribution, weighted and scaled; they sum to `self(events)`."""
        x = theory.as_events(events)
        c = self.config
        raw = {
            "key": self._key(x),
            "tonic": self._tonic(x),
            "repetition": self._repetition(x),
            "autocorrelation": self._autocorrelation(x),
            "motif": self._motif(x),
            "repeated_motif": self._repeated_motif(x),
            "intervals": self._intervals(x),
            "leaps": self._leaps(x),
            "extrema": self._extrema(x),
        }
        weights = c.weights.model_dump()
        return {name: (value * (weights[name] * c.scale)).float() for name, value in raw.items()}

    def every_action(
        self, events: torch.Tensor, rules: tuple[str, ...] = ACTION_RULES
    ) -> torch.Tensor:
        """`(B, T, 38)` reward of `rules` (default: key and repetition) for every event the
        policy could play at each step after the real prefix, weighted and scaled like `terms`.

        These rules are cheap to score for all alternatives at once, so a tuner can follow
        their exact expected gradient, sum_a pi(a|s) r(s, a), at every visited state instead of
        waiting to sample the rare actions they punish (a policy that repeats once in 10,000
        steps is seldom shown the penalty). Gathered at the played events it equals the sum of
        `terms(events)[rule]` over `rules`."""
        x = theory.as_events(events)
        out = torch.empty(*x.shape, NUM_EVENTS, dtype=torch.float32, device=x.device)
        for t in range(x.shape[1]):
            out[:, t] = self.next_action(x[:, :t], rules)
        return out

    def next_action(
        self, prefix: torch.Tensor, rules: tuple[str, ...] = ACTION_RULES
    ) -> torch.Tensor:
        """`(B, 38)`: `every_action` for the step after a `(B, t)` prefix only (t may be 0),
        what a sampler needs once per step."""
        unknown = set(rules) - set(SCORABLE_RULES)
        if unknown:
            raise ValueError(f"rules {sorted(unknown)} cannot be scored per action: use "
                             f"{', '.join(SCORABLE_RULES)}")
        c, weights = self.config, self.config.weights
        every = torch.arange(NUM_EVENTS, device=prefix.device)[None]  # (1, 38): every event
        total = torch.zeros(len(prefix), NUM_EVENTS, dtype=torch.float64, device=prefix.device)
        if "key" in rules:
            total += weights.key * self._key(every)
        if "repetition" in rules:
            flags = theory.next_excessive_repeats(
                prefix, c.max_repeats, c.max_repeats_broken, c.max_rests)
            total += weights.repetition * self._repetition_amount(flags)
        if "motif" in rules or "repeated_motif" in rules:
            notes, repeated = theory.next_motif(prefix, c.bar_length, c.motif_min_notes)
            if "motif" in rules:
                total += weights.motif * self._motif_amount(notes)
            if "repeated_motif" in rules:
                total += weights.repeated_motif * self._repeated_motif_amount(notes, repeated)
        return (total * c.scale).float()

    # One method per rule: raw RL Tuner amounts as float64 (B, T) tensors.

    def _key(self, x: torch.Tensor) -> torch.Tensor:
        """`reward_key`: -key_penalty for a note-on outside the key."""
        c = self.config
        return -c.key_penalty * theory.not_in_key(x, c.key_pitch_classes).double()

    def _tonic(self, x: torch.Tensor) -> torch.Tensor:
        """`reward_tonic`: the tonic at beat 0 and at the ending's first beat (T - 4), then a
        hold at the next beat and a rest or hold at each later one."""
        c = self.config
        steps = x.shape[1]
        first = steps - c.final_steps
        beat = torch.arange(steps, device=x.device)
        tonic = x == pitch_to_event(c.tonic_pitch)
        silent = (x == NO_EVENT) | (x == NOTE_OFF)
        hit = torch.where(
            (beat == 0) | (beat == first),
            tonic,
            torch.where(beat == first + 1, x == NO_EVENT, (beat > first + 1) & silent),
        )
        return c.tonic_reward * hit.double()

    def _repetition(self, x: torch.Tensor) -> torch.Tensor:
        """`reward_penalize_repeating`: -repeat_penalty when the action repeats excessively."""
        c = self.config
        flags = theory.excessive_repeats(x, c.max_repeats, c.max_repeats_broken, c.max_rests)
        return self._repetition_amount(flags)

    def _repetition_amount(self, flags: torch.Tensor) -> torch.Tensor:
        return -self.config.repeat_penalty * flags.double()

    def _autocorrelation(self, x: torch.Tensor) -> torch.Tensor:
        """`reward_penalize_autocorrelation`: -penalty x |coefficient| of prefix + action for
        each lag whose coefficient exceeds the threshold in size (NaN coefficients skipped).
        A coefficient of exactly the threshold is not penalised (decided in integers, see
        `theory.autocorrelation_parts`), where RL Tuner's floats could go either way."""
        c = self.config
        total = torch.zeros(x.shape, dtype=torch.float64, device=x.device)
        for lag in c.autocorrelation_lags:
            value, above = theory.prefix_autocorrelation_above(x, lag, c.autocorrelation_threshold)
            total += torch.where(above, value.abs(), 0.0)
        return -c.autocorrelation_penalty * total

    def _motif(self, x: torch.Tensor) -> torch.Tensor:
        """`reward_motif`: motif_reward + motif_bonus per distinct note beyond the minimum."""
        return self._motif_amount(theory.motif_notes(x, self.config.bar_length))

    def _motif_amount(self, notes: torch.Tensor) -> torch.Tensor:
        """The motif reward of bars with `notes` distinct notes (shared with `next_action`)."""
        c = self.config
        notes = notes.double()
        bonus = ((notes - c.motif_min_notes) * c.motif_bonus).clamp(min=0)
        return torch.where(notes >= c.motif_min_notes, c.motif_reward + bonus, 0.0)

    def _repeated_motif(self, x: torch.Tensor) -> torch.Tensor:
        """`reward_repeated_motif`: repeated_motif_reward + bonus per extra distinct note."""
        c = self.config
        repeated = theory.repeated_motif(x, c.bar_length, c.motif_min_notes)
        return self._repeated_motif_amount(theory.motif_notes(x, c.bar_length), repeated)

    def _repeated_motif_amount(self, notes: torch.Tensor, repeated: torch.Tensor) -> torch.Tensor:
        """The reward of repeated bars (`repeated`) with `notes` distinct notes."""
        c = self.config
        bonus = ((notes.double() - c.motif_min_notes) * c.repeated_motif_bonus).clamp(min=0)
        return torch.where(repeated, c.repeated_motif_reward + bonus, 0.0)

    def _intervals(self, x: torch.Tensor) -> torch.Tensor:
        """`reward_preferred_intervals`: interval_scale x the value of the interval class."""
        c = self.config
        values = c.interval_rewards
        codes = theory.interval_classes(x, c.tonic_pitch % 12)
        special = {
            theory.REST: values.rest,
            theory.HOLD: values.hold,
            theory.REST_AFTER_TONIC_OR_FIFTH: values.rest_after_tonic_or_fifth,
            theory.HOLD_AFTER_TONIC_OR_FIFTH: values.hold_after_tonic_or_fifth,
            theory.IN_KEY_FIFTH: values.in_key_fifth,
            theory.IN_KEY_THIRD: values.in_key_third,
        }
        plain = {
            2: values.second,
            4: values.third,
            5: values.fourth,
            7: values.fifth,
            9: values.sixth,
            11: values.seventh,
        }
        reward = torch.zeros(x.shape, dtype=torch.float64, device=x.device)
        for code, value in {**special, **plain}.items():
            reward = torch.where(codes == code, value, reward)
        reward = torch.where(codes > 12, values.beyond_octave, reward)
        return c.interval_scale * reward

    def _leaps(self, x: torch.Tensor) -> torch.Tensor:
        """`reward_leap_up_back`: +resolved reward, -doubled penalty (`theory.leap_outcomes`)."""
        c = self.config
        outcome = theory.leap_outcomes(x, c.leap_semitones, c.steps_between_leaps)
        return torch.where(
            outcome == theory.LEAP_RESOLVED,
            c.leap_resolved_reward,
            torch.where(outcome == theory.LEAP_DOUBLED, -c.leap_doubled_penalty, 0.0),
        ).double()

    def _extrema(self, x: torch.Tensor) -> torch.Tensor:
        """`reward_high_low_unique`: at the last step, the reward once for a unique highest
        event and once for a unique lowest note of the whole composition."""
        reward = torch.zeros(x.shape, dtype=torch.float64, device=x.device)
        if x.shape[1]:
            unique = theory.unique_high(x).double() + theory.unique_low(x).double()
            reward[:, -1] = self.config.unique_extrema_reward * unique
        return reward
