"""Built-in tuning rewards: values on hand-made sequences, and config errors."""

import pytest
import torch

from gmrl.core.errors import ConfigError
from gmrl.sequence.rewards import build_reward


def test_rewards_score_hand_made_sequences() -> None:
    tokens = torch.tensor([[0, 0, 1, 2], [3, 2, 1, 0]])
    assert build_reward("token_frequency", token=0)(tokens).tolist() == [0.5, 0.25]
    assert build_reward("no_repeat")(tokens).tolist() == pytest.approx([2 / 3, 1.0])
    assert build_reward("ascending")(tokens).tolist() == pytest.approx([2 / 3, 0.0])


def test_bad_reward_names_and_parameters_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown reward 'lenght'"):
        build_reward("lenght")
    with pytest.raises(ConfigError, match="no parameter 'tokn'"):
        build_reward("token_frequency", tokn=1)
    with pytest.raises(ConfigError, match="outside the vocabulary"):
        build_reward("token_frequency", vocab_size=4, token=4)
