"""Shared helpers for the music tests.

`ScalarRLTuner` restates RL Tuner's music-theory rules (magenta/models/rl_tuner/rl_tuner.py and
rl_tuner_eval_metrics.py) one composition and one step at a time, with the same state
(`composition`, `beat`, leap direction, note leapt from, steps since the last leap). The batched
`gmrl.music.theory`, `reward` and `metrics` are checked against it on random melodies.
"""

from dataclasses import dataclass, field

import numpy as np
import pytest

NOTE_OFF, NO_EVENT = 0, 1
C_MAJOR_KEY = {0, 1, 2, 4, 6, 7, 9, 11, 13, 14, 16, 18, 19, 21, 23, 25, 26, 28, 30, 31, 33, 35, 37}
TONIC = 14
C_NOTES, E_NOTES, G_NOTES = {2, 14, 26}, {6, 18, 30}, {9, 21, 33}
INTERVAL_VALUES = {  # RL Tuner's reward_preferred_intervals, by interval class
    "rest": 0.05, "hold": 0.075, "rest_special": 0.15, "hold_special": 0.3,
    "in_key_fifth": 0.1, "in_key_third": 0.15,
    2: 0.08, 4: 0.09, 5: 0.07, 7: 0.02, 9: 0.05, 11: -0.3,
}  # fmt: skip


def autocorrelate(signal: list[int], lag: int) -> float:
    """rl_tuner_ops.autocorrelate, NaN for a constant signal."""
    x = np.asarray(signal, dtype=np.float64)
    n = len(x)
    centred = x - x.mean()
    variance = x.var()
    if variance == 0:
        return float("nan")
    return float((centred[lag:] * centred[: max(n - lag, 0)]).sum() / n / variance)


def above_threshold(signal: list[int], lag: int) -> bool:
    """|autocorrelation| > 0.15 decided exactly: scaled by n^3 it is a ratio of integers."""
    n, total = len(signal), sum(signal)
    scaled = [n * x - total for x in signal]
    numerator = sum(a * b for a, b in zip(scaled[lag:], scaled, strict=False))
    return 20 * abs(numerator) > 3 * sum(c * c for c in scaled)


@dataclass
class ScalarRLTuner:
    """One composition, scored step by step the way RL Tuner does."""

    length: int = 32
    composition: list[int] = field(default_factory=list)
    direction: int = 0
    leapt_from: int | None = None
    since_leap: int = 0

    @property
    def beat(self) -> int:
        return len(self.composition)

    def repeating(self, a: int) -> bool:
        count, held, broken = 0, False, False
        for e in reversed(self.composition):
            if e == a:
                count += 1
            elif e == NOTE_OFF:
                broken = True
            elif e == NO_EVENT:
                held = True
            else:
                break
        if a == NOTE_OFF and count > 1:
            return True
        if not held and not broken:
            return count > 4
        return count > 6

    def motif(self, comp: list[int]) -> int:
        """Distinct notes of the last bar of 8, 0 when the composition is shorter."""
        if len(comp) < 8:
            return 0
        return len({e for e in comp[-8:] if e not in (NOTE_OFF, NO_EVENT)})

    def repeated_motif(self, a: int) -> bool:
        comp = [*self.composition, a]
        if self.motif(comp) < 3:
            return False
        bar = comp[-8:]
        earlier = self.composition[:-7]
        return any(earlier[i : i + 8] == bar for i in range(len(earlier) - 7))

    def interval(self, a: int) -> tuple[object, int | None]:
        """(interval class, previous note) as detect_sequential_interval."""
        if not self.composition:
            return 0, None
        notes = [e for e in self.composition if e not in (NOTE_OFF, NO_EVENT)]
        if not notes:
            return 0, None
        prev = notes[-1]
        special = prev in C_NOTES or prev in G_NOTES
        if a == NO_EVENT:
            return ("hold_special" if special else "hold"), prev
        if a == NOTE_OFF:
            return ("rest_special" if special else "rest"), prev
        d = abs(a - prev)
        if d == 7 and special:
            return "in_key_fifth", prev
        if d == 4 and (prev in C_NOTES or prev in E_NOTES):
            return "in_key_third", prev
        return d, prev

    def interval_reward(self, a: int) -> float:
        kind, _ = self.interval(a)
        if isinstance(kind, int) and kind > 12:
            return 5.0 * -1.0
        return 5.0 * INTERVAL_VALUES.get(kind, 0.0)  # type: ignore[call-overload]

    def leap(self, a: int) -> int:
        """detect_leap_up_back (mutates the leap state): 1 resolved, -1 doubled, 0 neither."""
        if not self.composition:
            return 0
        if a in (NOTE_OFF, NO_EVENT):
            self.since_leap += 1
            return 0
        _, prev = self.interval(a)
        distance = abs(a - prev) if prev is not None else 0
        outcome = 0
        if prev is not None and distance >= 7:
            new = 1 if a > prev else -1
            if self.direction != 0:
                if self.direction != new:
                    if self.since_leap > 6:
                        outcome = 1
                    self.direction, self.leapt_from = 0, None
                else:
                    outcome = -1
            else:
                self.direction, self.leapt_from = new, prev
            self.since_leap = 0
        else:
            self.since_leap += 1
            if (self.direction == 1 and a <= self.leapt_from) or (
                self.direction == -1 and a >= self.leapt_from
            ):
                outcome = 1
                self.direction, self.leapt_from = 0, None
        return outcome

    def tonic(self, a: int) -> float:
        final = self.length - 4
        if self.beat in (0, final):
            return 3.0 if a == TONIC else 0.0
        if self.beat == final + 1:
            return 3.0 if a == NO_EVENT else 0.0
        if self.beat > final + 1:
            return 3.0 if a in (NO_EVENT, NOTE_OFF) else 0.0
        return 0.0

    def step(self, a: int) -> dict[str, float]:
        """Every rule's reward and detector for action `a`; then `a` joins the composition."""
        comp = [*self.composition, a]
        out: dict[str, float] = {}
        out["key"] = -1.0 if a not in C_MAJOR_KEY else 0.0
        out["tonic"] = self.tonic(a)
        out["repeating_flag"] = float(self.repeating(a))
        out["repetition"] = -100.0 * out["repeating_flag"]
        penalty = 0.0
        for lag in (1, 2, 3):
            coeff = autocorrelate(comp, lag)
            if not np.isnan(coeff) and above_threshold(comp, lag):
                penalty += abs(coeff) * 3.0
        out["autocorrelation"] = -penalty
        notes = self.motif(comp)
        out["motif_flag"] = float(notes >= 3)
        out["motif"] = 3.0 + max((notes - 3) * 0.3, 0) if notes >= 3 else 0.0
        repeated = self.repeated_motif(a)
        out["repeated_motif_flag"] = float(repeated)
        out["repeated_motif"] = 4.0 + max(notes - 3, 0) if repeated else 0.0
        out["intervals"] = self.interval_reward(a)
        outcome = self.leap(a)
        out["leap_outcome"] = float(outcome)
        out["leaps"] = {1: 5.0, -1: -5.0, 0: 0.0}[outcome]
        extrema = 0.0
        if len(comp) == self.length:
            extrema += 3.0 * unique_high(comp) + 3.0 * unique_low(comp)
        out["extrema"] = extrema
        self.composition.append(a)
        return out


def unique_high(comp: list[int]) -> bool:
    return comp.count(max(comp)) == 1


def unique_low(comp: list[int]) -> bool:
    notes = [e for e in comp if e not in (NOTE_OFF, NO_EVENT)]
    return bool(notes) and comp.count(min(notes)) == 1


def score(composition: list[int]) -> list[dict[str, float]]:
    """ScalarRLTuner's per-step outputs for one whole composition."""
    tuner = ScalarRLTuner(length=len(composition))
    return [tuner.step(int(a)) for a in composition]


def melody_like(rng: np.random.Generator, n: int, steps: int = 32) -> np.ndarray:
    """Random compositions that look like melodies: note-ons on a C-major-ish range (some out of
    key, some leaps), long holds, rests, repeated notes, and copied bars (repeated motifs)."""
    out = np.empty((n, steps), dtype=np.int64)
    for i in range(n):
        row: list[int] = []
        note = int(rng.integers(8, 30))
        while len(row) < steps:
            u = rng.random()
            if u < 0.45:
                row.append(NO_EVENT)
            elif u < 0.55:
                row.append(NOTE_OFF)
            elif u < 0.62 and len(row) >= 8:
                row.extend(row[-8:] if rng.random() < 0.5 else row[: min(8, len(row))])
            else:
                jump = int(rng.choice([0, 0, 1, 2, 2, 3, 4, 5, 7, 9, 12, 14]))
                note = int(np.clip(note + jump * rng.choice([-1, 1]), 2, 37))
                row.append(note)
        out[i] = row[:steps]
    return out


@pytest.fixture(scope="session")
def melodies() -> np.ndarray:
    """250 compositions of 32 steps (fixed seed): 200 melody-like, 50 uniformly random."""
    rng = np.random.default_rng(12)
    uniform = rng.integers(0, 38, size=(50, 32))
    return np.concatenate([melody_like(rng, 200), uniform])


@pytest.fixture(scope="session")
def reference_steps(melodies: np.ndarray) -> list[list[dict[str, float]]]:
    """`ScalarRLTuner`'s per-step outputs for every composition of `melodies` (computed once)."""
    return [score(row.tolist()) for row in melodies]
