"""LogitGuide: offsets reach sampling, the default next step agrees with the full scoring."""

import pytest
import torch

from gmrl.generative.autoregressive import AutoregressiveModel
from gmrl.generative.logit_guide import LogitGuide


class NoRepeat(LogitGuide):
    """Forbids playing the previous token again (depends on the prefix only)."""

    def __init__(self, vocab: int) -> None:
        self.vocab = vocab

    def offsets(self, tokens: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(*tokens.shape, self.vocab)
        out[:, 1:].scatter_(-1, tokens[:, :-1, None], -1e4)
        return out


@pytest.fixture
def model() -> AutoregressiveModel:
    torch.manual_seed(0)
    # a model that repeats its first token: trained on constant sequences
    data = torch.arange(4).repeat_interleave(50)[:, None].expand(-1, 6).contiguous()
    model = AutoregressiveModel(vocab_size=4, seq_len=6, hidden=16, lr=1e-2)
    model.fit(data, epochs=20, batch_size=50, generator=torch.Generator().manual_seed(0))
    return model.eval()


def _repeats(x: torch.Tensor) -> int:
    return int((x[:, 1:] == x[:, :-1]).sum())


def test_a_guide_changes_what_is_sampled(model) -> None:
    plain = model.sample(200, generator=torch.Generator().manual_seed(1))
    guided = model.sample(200, generator=torch.Generator().manual_seed(1), guide=NoRepeat(4))
    assert _repeats(plain) > 500  # the model repeats almost always
    assert _repeats(guided) == 0


def test_guided_sampling_keeps_a_prefix(model) -> None:
    prefix = torch.tensor([[2, 3]])
    guided = model.sample(8, generator=torch.Generator().manual_seed(1), prefix=prefix,
                          guide=NoRepeat(4))
    assert torch.equal(guided[:, :2], prefix.expand(8, -1))
    assert _repeats(guided[:, 1:]) == 0


def test_default_next_offsets_are_the_last_position_of_offsets() -> None:
    guide = NoRepeat(5)
    tokens = torch.randint(0, 5, (3, 7), generator=torch.Generator().manual_seed(0))
    full = guide.offsets(tokens)
    for t in range(7):
        assert torch.equal(guide.next_offsets(tokens[:, :t]), full[:, t])


def test_the_base_class_must_be_subclassed() -> None:
    with pytest.raises(NotImplementedError):
        LogitGuide().offsets(torch.zeros(1, 2, dtype=torch.long))
