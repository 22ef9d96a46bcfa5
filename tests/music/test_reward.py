"""RL Tuner's music-theory reward: each rule on hand-made melodies, the whole against the scalar
restatement, weights, configuration errors and speed."""

import time

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from gmrl.music.reward import TERMS, MusicRewardConfig, MusicRuleWeights, MusicTheoryReward

C4, D4, E4, F4, Fs4, G4, A4, B4, C5 = 14, 16, 18, 19, 20, 21, 23, 25, 26
OFF, HOLD = 0, 1


def term(name: str, *rows: list[int]) -> list[float]:
    """The reward of one rule for one composition, as a list."""
    events = torch.tensor(rows, dtype=torch.long)
    return MusicTheoryReward().terms(events)[name][0].tolist()


def only_rule(name: str) -> MusicTheoryReward:
    weights = {t: 0.0 for t in TERMS} | {name: 1.0}
    return MusicTheoryReward(MusicRewardConfig(weights=MusicRuleWeights(**weights)))


def test_key_penalises_out_of_key_note_ons_only():
    assert term("key", [C4, D4, E4, F4, G4, A4, B4, C5, OFF, HOLD]) == [0.0] * 10
    assert term("key", [C4, Fs4, HOLD, 3]) == [0.0, -1.0, 0.0, -1.0]


def test_tonic_rewards_the_first_beat_and_the_ending():
    start = [C4] + [D4] * 31
    assert term("tonic", start)[0] == 3.0 and sum(term("tonic", start)) == 3.0
    assert term("tonic", [D4] * 32)[0] == 0.0
    ending = [D4] * 28 + [C4, HOLD, OFF, HOLD]
    assert term("tonic", ending)[28:] == [3.0] * 4
    assert term("tonic", [D4] * 28 + [C4, OFF, OFF, HOLD])[29] == 0.0  # beat T-3 wants a hold


def test_repetition_costs_100_per_excessive_repeat():
    assert term("repetition", [C4] * 16) == [0.0] * 5 + [-100.0] * 11
    assert sum(term("repetition", [C4, HOLD] * 8)) == -100.0


def test_autocorrelation_penalty_on_prefix_and_action():
    penalty = term("autocorrelation", [C4, D4] * 16)
    assert penalty[0] == 0.0  # one event: zero variance, NaN coefficient, no penalty
    assert penalty[1] == pytest.approx(-3 * 0.5)
    assert penalty[-1] == pytest.approx(-3 * (31 + 30 + 29) / 32)
    assert term("autocorrelation", [C4] * 8) == [0.0] * 8


def test_motif_reward_grows_with_distinct_notes():
    assert term("motif", [C4, D4, E4, F4, G4, A4, B4, C5])[-1] == pytest.approx(3.0 + 5 * 0.3)
    assert term("motif", [C4, HOLD, HOLD, OFF, D4, HOLD, HOLD, E4])[-1] == 3.0
    assert sum(term("motif", [C4, D4] * 8)) == 0.0


def test_repeated_motif_rewards_a_bar_heard_before():
    bar = [C4, D4, E4, HOLD, HOLD, HOLD, OFF, HOLD]
    reward = term("repeated_motif", bar * 2)
    assert reward == [0.0] * 15 + [4.0]
    rich = [C4, D4, E4, F4, G4, HOLD, HOLD, HOLD]  # 5 distinct notes: +1 per note beyond 3
    assert term("repeated_motif", rich * 2)[-1] == 6.0


@pytest.mark.parametrize(
    ("previous", "action", "value"),
    [
        (C4, G4, 0.1),  # in-key fifth
        (C4, E4, 0.15),  # in-key third
        (D4, Fs4, 0.09),  # other major third
        (C4, D4, 0.08),  # second
        (C4, F4, 0.07),  # fourth
        (C4, A4, 0.05),  # sixth
        (D4, A4, 0.02),  # other fifth
        (C4, B4, -0.3),  # seventh
        (C4, C5 + 1, -1.0),  # beyond the octave
        (C4, C5, 0.0),  # octave
        (C4, C4 + 1, 0.0),  # semitone
        (C4, C4, 0.0),  # unison
        (C4, HOLD, 0.3),  # hold after the tonic
        (D4, HOLD, 0.075),
        (G4, OFF, 0.15),  # rest after the fifth
        (D4, OFF, 0.05),
    ],
)
def test_preferred_intervals_pay_rl_tuners_values_times_five(previous, action, value):
    assert term("intervals", [previous, action]) == [0.0, pytest.approx(5 * value)]


def test_intervals_skip_rests_back_to_the_last_note():
    assert term("intervals", [HOLD, OFF, C4]) == [0.0, 0.0, 0.0]
    assert term("intervals", [C4, OFF, HOLD, D4])[-1] == pytest.approx(0.4)


def test_leaps_resolved_and_doubled():
    assert term("leaps", [C4, A4, G4, F4, E4, D4, C4]) == [0.0] * 6 + [5.0]
    assert term("leaps", [C4, A4, A4 + 9]) == [0.0, 0.0, -5.0]
    assert term("leaps", [C4, A4] + [HOLD] * 7 + [C4])[-1] == 5.0
    assert sum(term("leaps", [C4, A4, C4])) == 0.0  # straight back: too soon to count


def test_unique_extrema_pay_at_the_last_step_only():
    scale = [C4, D4, E4, F4, G4, A4, B4, C5] + [HOLD] * 24
    assert term("extrema", scale) == [0.0] * 31 + [6.0]
    assert term("extrema", [C4, D4] * 16)[-1] == 0.0
    assert term("extrema", [C4, D4, C4, HOLD])[-1] == 3.0  # unique high only


def test_total_is_the_sum_of_terms_and_matches_the_scalar_restatement(melodies, reference_steps):
    reward = MusicTheoryReward()
    x = torch.as_tensor(melodies)
    terms = reward.terms(x)
    assert set(terms) == set(TERMS)
    per_step = reward(x)
    assert per_step.shape == x.shape and per_step.dtype == torch.float32
    torch.testing.assert_close(per_step, torch.stack(list(terms.values())).sum(0))
    torch.testing.assert_close(reward.total(x), per_step.sum(1))
    expected = reference_steps
    for name in TERMS:
        want = np.array([[step[name] for step in row] for row in expected])
        np.testing.assert_allclose(terms[name].numpy(), want, atol=1e-5, err_msg=name)


def test_weights_and_scale_multiply_each_term():
    melody = torch.tensor([[C4, A4, G4, F4, E4, D4, C4, HOLD] * 4])
    base = MusicTheoryReward().terms(melody)
    config = MusicRewardConfig(weights=MusicRuleWeights(leaps=2.0, motif=0.0), scale=0.1)
    scaled = MusicTheoryReward(config).terms(melody)
    torch.testing.assert_close(scaled["leaps"], 0.2 * base["leaps"])
    assert not scaled["motif"].any() and base["motif"].any()
    torch.testing.assert_close(scaled["key"], 0.1 * base["key"])
    assert only_rule("tonic").total(melody).item() == pytest.approx(3.0 + 3.0)  # C4 at 0 and 28


def test_custom_key_and_tonic():
    g_major = MusicRewardConfig(key_pitch_classes=(7, 9, 11, 0, 2, 4, 6), tonic_pitch=67)
    melody = torch.tensor([[G4, Fs4, F4, G4]])
    terms = MusicTheoryReward(g_major).terms(melody)
    assert terms["key"][0].tolist() == [0.0, 0.0, -1.0, 0.0]
    assert terms["tonic"][0, 0] == 3.0
    # G is the tonic now: holding it earns the "after tonic or fifth" value
    hold = MusicTheoryReward(g_major).terms(torch.tensor([[G4, HOLD]]))["intervals"]
    assert hold[0, 1].item() == pytest.approx(1.5)


@pytest.mark.parametrize(
    "bad",
    [
        {"key_pitch_classes": (0, 12)},
        {"key_pitch_classes": (0, 0)},
        {"tonic_pitch": 40},
        {"weights": {"key": float("nan")}},
        {"bar_length": 1},
        {"autocorrelation_lags": (0,)},
        {"repeat_penalty": -1},
        {"keys": 1},
    ],
)
def test_config_refuses_bad_values(bad):
    with pytest.raises(ValidationError):
        MusicRewardConfig(**bad)


def test_ten_thousand_compositions_score_in_well_under_a_few_seconds():
    torch.manual_seed(0)
    events = torch.randint(0, 38, (10_000, 32))
    reward = MusicTheoryReward()
    reward(events[:10])  # warm-up
    start = time.perf_counter()
    out = reward(events)
    elapsed = time.perf_counter() - start
    assert out.shape == (10_000, 32) and torch.isfinite(out).all()
    assert elapsed < 3.0, f"{elapsed:.2f} s"


def test_the_reward_of_step_t_depends_only_on_steps_up_to_t(melodies):
    """What per-step RL needs: changing later events leaves earlier rewards alone."""
    reward = MusicTheoryReward()
    x = torch.as_tensor(melodies[:64])
    base = reward(x)
    rng = np.random.default_rng(3)
    for t in (0, 7, 15, 30):
        changed = x.clone()
        changed[:, t + 1 :] = torch.as_tensor(rng.integers(0, 38, size=(64, 31 - t)))
        torch.testing.assert_close(reward(changed)[:, : t + 1], base[:, : t + 1])
        assert not torch.equal(reward(changed)[:, t + 1 :], base[:, t + 1 :])


def test_every_action_scores_each_alternative_like_playing_it():
    """`every_action` at step t, event a, equals the key + repetition reward of the melody whose
    step t is replaced by a (the prefix kept); gathered at the played events, the same terms."""
    g = torch.Generator().manual_seed(3)
    # melodies with long holds and rests so that the repetition rule fires often
    events = torch.randint(0, 6, (24, 16), generator=g)
    events = torch.where(events < 2, events, events + C4 - 2)
    config = MusicRewardConfig(weights=MusicRuleWeights(key=2.0, repetition=0.5), scale=0.1)
    reward = MusicTheoryReward(config)
    every = reward.every_action(events)
    assert every.shape == (24, 16, 38)
    terms = reward.terms(events)
    played = every.gather(-1, events.unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(played, terms["key"] + terms["repetition"])
    assert (every < 0).any(-1).float().mean() > 0.3  # the check is not vacuous
    for t in (1, 5, 15):
        for action in range(38):
            changed = events.clone()
            changed[:, t] = action
            expected = reward.terms(changed)
            assert torch.allclose(every[:, t, action],
                                  expected["key"][:, t] + expected["repetition"][:, t])
