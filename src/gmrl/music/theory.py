"""RL Tuner's music-theory detectors, batched over compositions.

Every function reads a `(B, T)` LongTensor of events in the RL Tuner encoding (0 = note off,
1 = no event, 2.. = note-on of MIDI 48..) and answers, for each step t, what RL Tuner's own
detector answers when the action `events[:, t]` is played after the prefix `events[:, :t]`
(RL Tuner's `self.composition`, with `self.beat == t`). The definitions follow
magenta/models/rl_tuner/rl_tuner.py (Jaques et al. 2017, "Sequence Tutor"), quirks included,
so that `gmrl.music.reward` and `gmrl.music.metrics` reproduce its reward and its Table 1:

- `not_in_key`: RL Tuner's `C_MAJOR_KEY` lists note-off and no-event as in key.
- `excessive_repeats`: `detect_repeating_notes`, which scans back through rests and holds.
- `motif_notes` / `repeated_motif`: `detect_last_motif` / `detect_repeated_motif` (bar of 8).
- `interval_classes`: `detect_sequential_interval` with its special rest/hold/in-key codes.
- `leap_outcomes`: `detect_leap_up_back`, a per-composition state machine.
- `autocorrelation`: `rl_tuner_ops.autocorrelate` over the raw event ids.
- `unique_high` / `unique_low`: `detect_high_unique` / `detect_low_unique`.

Shared by the reward and the metrics so both read the same rules. No loop over samples; some
functions loop over the T steps.
"""

from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import torch

from gmrl.music.encoding import (
    FIRST_NOTE,
    MIN_PITCH,
    NO_EVENT,
    NOTE_OFF,
    NUM_EVENTS,
    MusicDataError,
)

# Codes of `interval_classes` (a value >= 0 is a plain note-to-note distance in semitones).
REST = -1  # note off after a note
HOLD = -2  # no event after a note
REST_AFTER_TONIC_OR_FIFTH = -3
HOLD_AFTER_TONIC_OR_FIFTH = -4
IN_KEY_FIFTH = -5  # 7 semitones from the tonic or the fifth
IN_KEY_THIRD = -6  # 4 semitones from the tonic or the third
NO_INTERVAL = -7  # first step, or no note played yet

# `leap_outcomes` values (RL Tuner's LEAP_RESOLVED / LEAP_DOUBLED).
LEAP_RESOLVED = 1
LEAP_DOUBLED = -1

C_MAJOR_PITCH_CLASSES = (0, 2, 4, 5, 7, 9, 11)


def as_events(events: torch.Tensor | np.ndarray | Sequence[Sequence[int]]) -> torch.Tensor:
    """A `(N, T)` LongTensor of events from a tensor, an integer array or nested lists.

    Tensors keep their device. Raises `MusicDataError` for another shape or an id outside the
    encoding, since every rule would silently misread such input.
    """
    if isinstance(events, torch.Tensor):
        tensor = events
    else:
        array = np.asarray(events)
        if array.size and not np.issubdtype(array.dtype, np.integer):
            raise MusicDataError(f"events must be integer ids, got dtype {array.dtype}")
        tensor = torch.from_numpy(array.astype(np.int64, copy=False))
    if tensor.dtype.is_floating_point or tensor.dtype == torch.bool or tensor.is_complex():
        raise MusicDataError(f"events must be integer ids, got dtype {tensor.dtype}")
    if tensor.dim() != 2:
        raise MusicDataError(
            f"events must be a (N, T) batch of compositions, got shape {tuple(tensor.shape)}"
        )
    tensor = tensor.long()
    if tensor.numel() and (int(tensor.min()) < 0 or int(tensor.max()) >= NUM_EVENTS):
        raise MusicDataError(
            f"event ids must lie in 0..{NUM_EVENTS - 1} (0 note off, 1 no event, 2.. notes), "
            f"got {int(tensor.min())}..{int(tensor.max())}"
        )
    return tensor


def pitch_class(events: torch.Tensor) -> torch.Tensor:
    """Pitch class (0 = C) of note events; meaningless for note-off / no-event."""
    return (events - FIRST_NOTE + MIN_PITCH) % 12


def is_note(events: torch.Tensor) -> torch.Tensor:
    """True where the event is a note-on (not a rest or a hold)."""
    return events >= FIRST_NOTE


def not_in_key(events: torch.Tensor, key: Sequence[int] = C_MAJOR_PITCH_CLASSES) -> torch.Tensor:
    """`(B, T)` True where a note-on's pitch class is outside `key` (RL Tuner's `reward_key`
    and `add_in_key_stat`; note-off and no-event are in its key list, so never count)."""
    table = torch.zeros(12, dtype=torch.bool, device=events.device)
    table[list(key)] = True
    return is_note(events) & ~table[pitch_class(events)]


def excessive_repeats(
    events: torch.Tensor, max_repeats: int = 4, max_repeats_broken: int = 6, max_rests: int = 1
) -> torch.Tensor:
    """`(B, T)` True where RL Tuner's `detect_repeating_notes` flags the action.

    Walking back through the prefix, it counts earlier events equal to the action, steps over
    note-offs (a "break") and no-events (a "hold") that differ from it, and stops at the first
    other event. The action is excessive when it is a note-off with more than `max_rests` (1)
    note-offs counted, or when more than `max_repeats` (4) were counted with no break or hold
    in between, or more than `max_repeats_broken` (6) with one. Holds count as repeats of a
    no-event action, so a note sustained for more than 5 sixteenths is "excessively repeated":
    this is why RL Tuner's Note-RNN row reads 63 %.
    """
    flags = excessive_repeats_of(events, events.unsqueeze(-1), max_repeats, max_repeats_broken,
                                 max_rests)
    return flags.squeeze(-1)


def excessive_repeats_of(
    events: torch.Tensor, candidates: torch.Tensor, max_repeats: int = 4,
    max_repeats_broken: int = 6, max_rests: int = 1,
) -> torch.Tensor:
    """`(B, T, K)` True where `candidates[b, t, k]`, played at step t after the real prefix
    `events[b, :t]`, would be flagged by `detect_repeating_notes` (see `excessive_repeats`).

    `candidates` is `(B, T, K)` or `(K,)` (the same K events at every step). This is the plain
    scan, one candidate at a time; `next_excessive_repeats` computes all events of one step in a
    few vectorised passes and is checked against it."""
    batch, steps = events.shape
    if candidates.dim() == 1:
        candidates = candidates.to(events.device).expand(batch, steps, -1)
    out = torch.zeros(candidates.shape, dtype=torch.bool, device=events.device)
    for t in range(1, steps):
        prefix, action = events[:, :t, None], candidates[:, t : t + 1, :]
        match = prefix == action
        skipped = ((prefix == NOTE_OFF) | (prefix == NO_EVENT)) & ~match
        stop = ~(match | skipped)
        # a position is scanned when no stopping event lies after it
        stops_after = stop.flip(1).cumsum(1).flip(1) - stop.long()
        scanned = stops_after == 0
        count = (match & scanned).sum(1)
        broken = (skipped & scanned).any(1)
        rest = action[:, 0] == NOTE_OFF
        out[:, t] = (
            (rest & (count > max_rests))
            | (~broken & (count > max_repeats))
            | (broken & (count > max_repeats_broken))
        )
    return out


def next_excessive_repeats(
    prefix: torch.Tensor, max_repeats: int = 4, max_repeats_broken: int = 6, max_rests: int = 1,
) -> torch.Tensor:
    """`(B, NUM_EVENTS)` True where each event, played after the `(B, t)` prefix, would be
    flagged by `detect_repeating_notes`: `excessive_repeats_of` for the next step only, in a
    few vectorised passes instead of one scan per candidate (what a sampler calls every step).

    Walking back stops at the first pitch other than the candidate, so only two kinds of
    candidate can be flagged: the last pitch played (its run reaches back to the pitch before
    that differs) and the note-off / no-event (their run reaches back to the last pitch)."""
    batch, steps = prefix.shape
    out = torch.zeros(batch, NUM_EVENTS, dtype=torch.bool, device=prefix.device)
    if steps == 0:
        return out
    position = torch.arange(steps, device=prefix.device).expand(batch, -1)
    pitch = prefix > NO_EVENT
    last = torch.where(pitch, position, -1).max(1).values  # -1: no pitch yet
    last_pitch = prefix.gather(1, last.clamp(min=0)[:, None])  # (B, 1)
    differs = pitch & (prefix != last_pitch)
    before = torch.where(differs, position, -1).max(1).values
    is_rest, is_hold = prefix == NOTE_OFF, prefix == NO_EVENT

    def flagged(count: torch.Tensor, broken: torch.Tensor) -> torch.Tensor:
        return (~broken & (count > max_repeats)) | (broken & (count > max_repeats_broken))

    since_pitch = position > last[:, None]
    rests, holds = (is_rest & since_pitch).sum(1), (is_hold & since_pitch).sum(1)
    out[:, NOTE_OFF] = (rests > max_rests) | flagged(rests, holds > 0)
    out[:, NO_EVENT] = flagged(holds, rests > 0)
    run = position > before[:, None]
    count = ((prefix == last_pitch) & run).sum(1)
    broken = ((is_rest | is_hold) & run).any(1)
    repeat_pitch = (last >= 0) & flagged(count, broken)
    out.scatter_(1, last_pitch.clamp(min=NO_EVENT + 1), repeat_pitch[:, None])
    return out


def motif_notes(events: torch.Tensor, bar_length: int = 8) -> torch.Tensor:
    """`(B, T)` number of distinct notes in the bar of `bar_length` events ending at step t
    (RL Tuner's `detect_last_motif` on prefix + action); 0 while fewer than `bar_length`
    events have been played. A motif is a bar with at least 3 distinct notes."""
    batch, steps = events.shape
    counts = torch.zeros(batch, steps, dtype=torch.long, device=events.device)
    if steps < bar_length:
        return counts
    windows = torch.where(is_note(events), events, -1).unfold(1, bar_length, 1)
    ordered = windows.sort(dim=-1).values
    new = torch.ones_like(ordered, dtype=torch.bool)
    new[..., 1:] = ordered[..., 1:] != ordered[..., :-1]
    counts[:, bar_length - 1 :] = (new & (ordered >= FIRST_NOTE)).sum(-1)
    return counts


def repeated_motif(events: torch.Tensor, bar_length: int = 8, min_notes: int = 3) -> torch.Tensor:
    """`(B, T)` True where the bar ending at step t is a motif (>= `min_notes` distinct notes)
    that already occurred, event for event, entirely before that bar (RL Tuner's
    `detect_repeated_motif`: it searches `composition[:-(bar_length - 1)]`)."""
    batch, steps = events.shape
    out = torch.zeros(batch, steps, dtype=torch.bool, device=events.device)
    if steps < bar_length:
        return out
    windows = events.unfold(1, bar_length, 1)  # (B, W, bar): window w ends at step w + bar - 1
    n_windows = windows.shape[1]
    if NUM_EVENTS**bar_length < 2**62:  # pack each window into one integer: one comparison
        powers = NUM_EVENTS ** torch.arange(bar_length, device=events.device)
        codes = windows @ powers
        same = codes[:, :, None] == codes[:, None, :]
    else:
        same = torch.ones(batch, n_windows, n_windows, dtype=torch.bool, device=events.device)
        for k in range(bar_length):
            same &= windows[:, :, None, k] == windows[:, None, :, k]
    # window s lies entirely before window w when s + bar - 1 < w, i.e. s <= w - bar_length
    earlier = torch.ones(n_windows, n_windows, dtype=torch.bool, device=events.device)
    earlier = earlier.tril(diagonal=-bar_length)
    found = (same & earlier).any(-1)
    is_motif = motif_notes(events, bar_length)[:, bar_length - 1 :] >= min_notes
    out[:, bar_length - 1 :] = found & is_motif
    return out


def next_motif(
    prefix: torch.Tensor, bar_length: int = 8, min_notes: int = 3
) -> tuple[torch.Tensor, torch.Tensor]:
    """`motif_notes` and `repeated_motif` of the bar that each event would end when played
    after the `(B, t)` prefix: `(B, NUM_EVENTS)` distinct-note counts (0 while the bar is not
    complete) and `(B, NUM_EVENTS)` repeated-motif flags, for a sampler's next step.

    An event completes a bar seen before when the last `bar_length - 1` events equal the start
    of an earlier bar (entirely before this one) and the event equals that bar's last event."""
    batch, steps = prefix.shape
    counts = torch.zeros(batch, NUM_EVENTS, dtype=torch.long, device=prefix.device)
    repeated = torch.zeros(batch, NUM_EVENTS, dtype=torch.bool, device=prefix.device)
    if steps + 1 < bar_length:
        return counts, repeated
    head = prefix[:, steps - bar_length + 1 :]  # the bar's first bar_length - 1 events
    notes = torch.where(is_note(head), head, -1)
    ordered = notes.sort(dim=-1).values
    new = torch.ones_like(ordered, dtype=torch.bool)
    new[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    distinct = (new & (ordered >= FIRST_NOTE)).sum(-1)  # (B,)
    every = torch.arange(NUM_EVENTS, device=prefix.device)
    seen = (head[:, :, None] == every).any(1)  # (B, V): the event is already in the bar
    counts = distinct[:, None] + (is_note(every) & ~seen).long()
    # earlier bars start at s <= (bar start) - bar_length = steps + 1 - 2 * bar_length
    last_start = steps + 1 - 2 * bar_length
    if last_start >= 0:
        bars = prefix[:, : last_start + bar_length].unfold(1, bar_length, 1)  # (B, S, bar)
        match = (bars[:, :, :-1] == head[:, None, :]).all(-1)  # (B, S)
        ends = bars[:, :, -1]
        repeated.scatter_reduce_(1, ends, match, reduce="amax")
    repeated &= counts >= min_notes
    return counts, repeated


def previous_notes(events: torch.Tensor) -> torch.Tensor:
    """`(B, T)` the last note-on strictly before step t, or -1 when there is none."""
    batch, steps = events.shape
    index = torch.arange(steps, device=events.device).expand(batch, steps)
    last_index = torch.where(is_note(events), index, -1).cummax(1).values
    # shift right by one: the prefix excludes the action itself
    before = torch.full_like(last_index, -1)
    before[:, 1:] = last_index[:, :-1]
    return torch.where(before >= 0, events.gather(1, before.clamp(min=0)), -1)


def interval_classes(events: torch.Tensor, tonic_pitch_class: int = 0) -> torch.Tensor:
    """`(B, T)` RL Tuner's `detect_sequential_interval` for each action.

    A value >= 0 is the distance in semitones from the last note played; the negative codes
    of this module mark its special cases: a rest or hold after a note (the "after tonic or
    fifth" variants when that note is the tonic or the fifth), a fifth up or down from the
    tonic or the fifth (`IN_KEY_FIFTH`), a major third from the tonic or the third
    (`IN_KEY_THIRD`), and `NO_INTERVAL` at step 0 or before any note.
    """
    prev = previous_notes(events)
    prev_pc = (pitch_class(prev) - tonic_pitch_class) % 12
    on_tonic_or_fifth = (prev_pc == 0) | (prev_pc == 7)
    distance = (events - prev).abs()
    codes = distance.clone()
    codes = torch.where((distance == 7) & on_tonic_or_fifth, IN_KEY_FIFTH, codes)
    codes = torch.where((distance == 4) & ((prev_pc == 0) | (prev_pc == 4)), IN_KEY_THIRD, codes)
    hold = torch.where(on_tonic_or_fifth, HOLD_AFTER_TONIC_OR_FIFTH, HOLD)
    rest = torch.where(on_tonic_or_fifth, REST_AFTER_TONIC_OR_FIFTH, REST)
    codes = torch.where(events == NO_EVENT, hold, codes)
    codes = torch.where(events == NOTE_OFF, rest, codes)
    return torch.where(prev < 0, NO_INTERVAL, codes)


def leap_outcomes(
    events: torch.Tensor, leap_semitones: int = 7, steps_between_leaps: int = 6
) -> torch.Tensor:
    """`(B, T)` RL Tuner's `detect_leap_up_back`: `LEAP_RESOLVED`, `LEAP_DOUBLED` or 0.

    A leap is a move of `leap_semitones` (a fifth) or more from the last note. After a leap the
    melody "owes" a resolution: a later leap in the opposite direction resolves it only when
    more than `steps_between_leaps` steps passed since the last leap (otherwise the debt is
    simply cleared), a leap in the same direction is a doubled leap, and stepping back to or
    past the note leapt from resolves it gradually. Rests and holds count as steps.
    """
    batch, steps = events.shape
    device = events.device
    out = torch.zeros(batch, steps, dtype=torch.long, device=device)
    direction = torch.zeros(batch, dtype=torch.long, device=device)
    leapt_from = torch.full((batch,), -1, dtype=torch.long, device=device)
    since = torch.zeros(batch, dtype=torch.long, device=device)
    prev = previous_notes(events)
    for t in range(1, steps):  # RL Tuner returns early, without counting, on an empty prefix
        action, last = events[:, t], prev[:, t]
        note = is_note(action)
        leap = note & (last >= 0) & ((action - last).abs() >= leap_semitones)
        plain = note & ~leap
        new_direction = torch.where(action > last, 1, -1)
        owed = direction != 0
        reverses = leap & owed & (direction != new_direction)
        doubles = leap & owed & (direction == new_direction)
        starts = leap & ~owed
        back = plain & (
            ((direction == 1) & (action <= leapt_from))
            | ((direction == -1) & (action >= leapt_from))
        )
        out[:, t] = torch.where(
            (reverses & (since > steps_between_leaps)) | back,
            LEAP_RESOLVED,
            torch.where(doubles, LEAP_DOUBLED, 0),
        )
        cleared = reverses | back
        direction = torch.where(starts, new_direction, torch.where(cleared, 0, direction))
        leapt_from = torch.where(starts, last, torch.where(cleared, -1, leapt_from))
        since = torch.where(leap, 0, since + 1)
    return out


def prefix_autocorrelation_parts(
    events: torch.Tensor, lag: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """`(B, T)` integer numerator and denominator of the autocorrelation at `lag` of each
    prefix `events[:, :t + 1]`.

    `rl_tuner_ops.autocorrelate` is sum_i (x[i+lag] - m)(x[i] - m) / n / var(x) over the raw
    event ids x of length n (mean m, population variance). Multiplied through by n^3 it is
    sum_i (n x[i+lag] - S)(n x[i] - S) / sum_i (n x[i] - S)^2 with S = sum x: a ratio of
    integers, which running sums give for every prefix at once. Integers also make threshold
    tests exact: a short prefix often has a coefficient of exactly 0.15, which float rounding
    would put on either side of RL Tuner's threshold.
    """
    steps = events.shape[1]
    x = events.long()
    n = torch.arange(1, steps + 1, device=x.device)  # prefix lengths
    total = x.cumsum(1)  # S
    squares = (x * x).cumsum(1)
    denominator = n * (n * squares - total * total)
    numerator = torch.zeros_like(denominator)
    if lag < steps:
        # prefixes longer than `lag` (n = lag + 1 ..): the overlapping sums of x[i] and x[i+lag]
        m = n[lag:]
        products = (x[:, lag:] * x[:, :-lag]).cumsum(1)  # sum_{i < n - lag} x[i+lag] x[i]
        head = total[:, : steps - lag]  # sum_{i < n - lag} x[i]
        tail = total[:, lag:] - total[:, lag - 1 : lag]  # sum_{lag <= j < n} x[j]
        s = total[:, lag:]
        numerator[:, lag:] = m * m * products - m * s * (head + tail) + (m - lag) * s * s
    return numerator, denominator


def _ratio(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """numerator / denominator as float64, NaN where the denominator (variance) is 0."""
    ratio = numerator.double() / denominator.clamp(min=1).double()
    return torch.where(denominator > 0, ratio, torch.full_like(ratio, float("nan")))


def autocorrelation(events: torch.Tensor, lag: int) -> torch.Tensor:
    """`(B,)` `rl_tuner_ops.autocorrelate` of each row's raw event ids at `lag`:
    sum_i (x[i+lag] - m)(x[i] - m) / n / var(x), NaN for a constant row (variance 0)."""
    numerator, denominator = prefix_autocorrelation_parts(events, lag)
    return _ratio(numerator[:, -1], denominator[:, -1])


def prefix_autocorrelation(events: torch.Tensor, lag: int) -> torch.Tensor:
    """`(B, T)` the autocorrelation of `events[:, :t + 1]` at `lag` for every step t: what RL
    Tuner's `reward_penalize_autocorrelation` sees when the action at step t is played."""
    return _ratio(*prefix_autocorrelation_parts(events, lag))


def prefix_autocorrelation_above(
    events: torch.Tensor, lag: int, threshold: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """`(B, T)` prefix autocorrelation at `lag` and whether its size exceeds `threshold`,
    decided exactly (in integers, with the threshold read as the decimal it prints as)."""
    bound = Fraction(str(threshold)).limit_denominator(10**6)
    numerator, denominator = prefix_autocorrelation_parts(events, lag)
    above = (denominator > 0) & (
        bound.denominator * numerator.abs() > bound.numerator * denominator
    )
    return _ratio(numerator, denominator), above


def unique_high(events: torch.Tensor) -> torch.Tensor:
    """`(B,)` True when the composition's highest event occurs once (`detect_high_unique`;
    the maximum is taken over all events, so an all-rest composition has no unique high)."""
    top = events.max(1, keepdim=True).values
    return (events == top).sum(1) == 1


def unique_low(events: torch.Tensor) -> torch.Tensor:
    """`(B,)` True when the lowest note-on occurs once (`detect_low_unique`)."""
    sentinel = NUM_EVENTS
    lowest = torch.where(is_note(events), events, sentinel).min(1, keepdim=True).values
    return (lowest[:, 0] < sentinel) & ((events == lowest).sum(1) == 1)
