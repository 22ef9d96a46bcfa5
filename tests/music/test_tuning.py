"""RL Tuner's Q/Psi/G learning and gmrl's on-policy tuner lower excessive repetition."""

import copy

import numpy as np
import pytest
import torch

from gmrl.generative.autoregressive import AutoregressiveModel
from gmrl.music.metrics import rltuner_metrics
from gmrl.music.note_rnn import NoteRNNConfig, build_note_rnn, fit_epoch
from gmrl.music.reward import MusicTheoryReward
from gmrl.music.tuning import OffPolicyTuner, RLTunerConfig
from gmrl.sequence.tuner import RewardTuner, TunerConfig


def held_notes(n: int, seed: int, hold: int) -> np.ndarray:
    """`(n, 32)` melodies of in-key notes (MIDI 60..72), each held for `hold` steps."""
    rng = np.random.default_rng(seed)
    notes = rng.choice(np.array([60, 62, 64, 65, 67, 69, 71, 72]), size=(n, 32 // hold)) - 46
    events = np.ones((n, 32), dtype=np.int64)
    events[:, ::hold] = notes
    return events


@pytest.fixture(scope="module")
def note_rnn() -> AutoregressiveModel:
    """A small Note-RNN that holds notes for 4 or 8 steps: ~30 % excessive repeats."""
    torch.manual_seed(0)
    train = np.concatenate([held_notes(300, 1, 8), held_notes(300, 2, 4)])
    model = build_note_rnn(NoteRNNConfig(hidden=32, embed_dim=16))
    generator = torch.Generator().manual_seed(0)
    for _ in range(6):
        fit_epoch(model, train, batch_size=64, generator=generator)
    return model.eval().requires_grad_(False)


def _repeats(events: torch.Tensor) -> float:
    return rltuner_metrics(events)["repeated_notes_pct"]


def _prior_repeats(model: AutoregressiveModel) -> float:
    return _repeats(model.sample(500, generator=torch.Generator().manual_seed(5)))


@pytest.mark.parametrize(("algo", "limit"), [("q", 3.0), ("psi", 5.0), ("g", 5.0)])
def test_off_policy_tuning_lowers_excessive_repetition(
    note_rnn: AutoregressiveModel, algo: str, limit: float
) -> None:
    before = _prior_repeats(note_rnn)
    reward = MusicTheoryReward()
    config = RLTunerConfig(algo=algo, compositions=32, minibatch=16, epsilon_rollouts=20)
    tuner = OffPolicyTuner(note_rnn, reward, config, generator=torch.Generator().manual_seed(1))
    draws = torch.Generator().manual_seed(5)
    reward_before = float(reward.total(tuner.sample(500, generator=draws)).mean())
    history = [tuner.step() for _ in range(40)]
    tuned = tuner.sample(500, generator=torch.Generator().manual_seed(5))
    after = _repeats(tuned)
    assert before > 20.0
    assert after < limit, (algo, before, after)
    assert float(reward.total(tuned).mean()) > reward_before + 50
    assert all(np.isfinite(m["td_loss"]) for m in history)
    assert _prior_repeats(note_rnn) == before  # the Note-RNN itself is left untouched


def test_on_policy_tuner_with_per_step_music_reward_lowers_repetition(
    note_rnn: AutoregressiveModel,
) -> None:
    before = _prior_repeats(note_rnn)
    reward = MusicTheoryReward()
    policy = copy.deepcopy(note_rnn).requires_grad_(True)
    tuner = RewardTuner(
        policy, lambda x: torch.zeros(len(x)),
        TunerConfig(estimator="rloo", batch_size=32, lr=3e-3, self_bleu=False),
        step_reward_fn=lambda x: reward(x) / 10, reference=note_rnn,
        generator=torch.Generator().manual_seed(1),
    )
    history = [tuner.step() for _ in range(30)]
    after = _repeats(policy.sample(500, generator=torch.Generator().manual_seed(5)))
    assert after < 0.2 * before, (before, after)
    assert history[-1]["kl"] > 0 and np.isfinite(history[-1]["entropy"])


def test_state_dict_resumes_the_exact_same_steps(note_rnn: AutoregressiveModel) -> None:
    config = RLTunerConfig(algo="psi", compositions=8, minibatch=4, updates_per_rollout=2)
    first = OffPolicyTuner(note_rnn, MusicTheoryReward(), config,
                           generator=torch.Generator().manual_seed(3))
    for _ in range(2):
        first.step()
    saved = copy.deepcopy(first.state_dict())
    expected = [first.step() for _ in range(2)]
    second = OffPolicyTuner(note_rnn, MusicTheoryReward(), config, generator=torch.Generator())
    second.load_state_dict(saved)
    assert [second.step() for _ in range(2)] == expected
