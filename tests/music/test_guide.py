"""RuleGuide: key and repetition rules as logit offsets, one step or all, saved with a policy."""

import pytest
import torch

from gmrl.core.errors import CheckpointError
from gmrl.music import theory
from gmrl.music.guide import RuleGuide
from gmrl.music.note_rnn import NoteRNNConfig, build_note_rnn
from gmrl.music.policy import MelodyPolicy, load_policy, save_policy
from gmrl.music.reward import MusicRewardConfig, MusicTheoryReward


def _random_events(n: int = 64, seed: int = 0) -> torch.Tensor:
    """Random melodies with many holds (so the repetition rule fires often)."""
    g = torch.Generator().manual_seed(seed)
    events = torch.randint(0, 38, (n, 32), generator=g)
    holds = torch.rand(n, 32, generator=g) < 0.6
    return torch.where(holds, torch.ones_like(events), events)


def test_offsets_are_the_scaled_every_action_reward() -> None:
    config = MusicRewardConfig(weights={"key": 2.0, "repetition": 0.5})
    events = _random_events()
    offsets = RuleGuide(config, 0.25).offsets(events)
    assert torch.allclose(offsets, MusicTheoryReward(config).every_action(events) * 0.25)


def test_next_offsets_score_only_the_new_step_and_agree_with_offsets() -> None:
    guide = RuleGuide(MusicRewardConfig(), 0.1)
    events = _random_events()
    full = guide.offsets(events)
    assert bool((full < -5).any())  # some repeats are punished
    for step in range(32):
        assert torch.allclose(guide.next_offsets(events[:, :step]), full[:, step])


def test_a_guided_note_rnn_never_repeats_excessively() -> None:
    """An untrained Note-RNN holds notes at random; the guide removes every excessive repeat
    while leaving the composition free otherwise (many distinct compositions)."""
    torch.manual_seed(0)
    net = build_note_rnn(NoteRNNConfig(hidden=16, embed_dim=8)).eval()
    with torch.no_grad():  # bias toward holds: plenty of excessive repeats unguided
        net.head.bias[1] += 5.0
    plain = MelodyPolicy(net).sample(300, generator=torch.Generator().manual_seed(1))
    guided = MelodyPolicy(net, guide=RuleGuide(MusicRewardConfig(), 0.5)).sample(
        300, generator=torch.Generator().manual_seed(1))
    assert int(theory.excessive_repeats(plain).sum()) > 100
    assert int(theory.excessive_repeats(guided).sum()) == 0
    assert len({tuple(row.tolist()) for row in guided}) > 290


def test_a_guide_is_saved_and_rebuilt_with_its_policy(tmp_path) -> None:
    torch.manual_seed(0)
    net = build_note_rnn(NoteRNNConfig(hidden=8, embed_dim=4))
    config = MusicRewardConfig(weights={"repetition": 3.0})
    path = save_policy(MelodyPolicy(net, name="rloo", guide=RuleGuide(config, 0.2)),
                       tmp_path / "policy.safetensors")
    loaded = load_policy(path)
    assert loaded.guide is not None and loaded.guide.scale == pytest.approx(0.2)
    assert loaded.guide.reward.config == config
    events = _random_events(8)
    assert torch.allclose(loaded.log_probs(events),
                          MelodyPolicy(net, guide=RuleGuide(config, 0.2)).log_probs(events))


def test_bad_guides_are_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="scale must be > 0"):
        RuleGuide(MusicRewardConfig(), 0.0)
    net = build_note_rnn(NoteRNNConfig(hidden=8, embed_dim=4))
    with pytest.raises(ValueError, match="not both"):
        MelodyPolicy(net, prior=net, guide=RuleGuide(MusicRewardConfig(), 1.0))
    guide = RuleGuide(MusicRewardConfig(), 1.0)
    guide.scale = -1.0  # what a hand-edited file could hold
    path = save_policy(MelodyPolicy(net, guide=guide), tmp_path / "policy.safetensors")
    with pytest.raises(CheckpointError, match="rule guide cannot be rebuilt"):
        load_policy(path)


def test_motif_rules_can_join_the_guide_and_match_their_terms() -> None:
    config = MusicRewardConfig(weights={"motif": 2.0, "repeated_motif": 0.5}, scale=0.7)
    rules = ("key", "repetition", "motif", "repeated_motif")
    events = _random_events()
    every = MusicTheoryReward(config).every_action(events, rules)
    terms = MusicTheoryReward(config).terms(events)
    played = every.gather(-1, events.unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(played, sum(terms[rule] for rule in rules), atol=1e-4)
    guide = RuleGuide(config, 0.1, rules)
    assert RuleGuide.from_dict(guide.to_dict()).rules == rules
    with pytest.raises(ValueError, match="must be some of"):
        RuleGuide(config, 0.1, ("tonic",))
