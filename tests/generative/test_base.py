"""`GenerativeModel.fit`'s input checks, for every zoo model: empty data, NaN/infinite values,
misspelt keywords and bad epochs/batch sizes are refused with one line before any step; the
autoregressive entry points refuse sequences of the wrong length."""

import pytest
import torch

from gmrl.core.errors import DataError, GmrlError
from gmrl.generative import MODEL_REGISTRY, build_model
from gmrl.generative.autoregressive import AutoregressiveModel

from .test_contract import CASES


def _model_and_data(name: str) -> tuple[torch.nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    model = build_model(name, **CASES[name][0])
    return model, CASES[name][1](8, torch.Generator().manual_seed(1))


def _weights(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("name", list(MODEL_REGISTRY))
def test_fit_refuses_empty_data(name: str) -> None:
    model, data = _model_and_data(name)
    with pytest.raises(DataError, match="no training examples") as caught:
        model.fit(data[:0], epochs=1)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, GmrlError)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("name", [n for n in MODEL_REGISTRY if n != "autoregressive"])
def test_fit_refuses_non_finite_data(name: str, bad: float) -> None:
    model, data = _model_and_data(name)
    data = data.clone()
    data[3, 1] = bad
    before = _weights(model)
    expected = r"NaN/infinite value\(s\) in 1 example\(s\) \(first: row 3\)"
    with pytest.raises(DataError, match=expected):
        model.fit(data, epochs=1, batch_size=4)
    assert all(torch.equal(a, b) for a, b in zip(before, _weights(model), strict=True))


@pytest.mark.parametrize("name", list(MODEL_REGISTRY))
def test_fit_refuses_misspelt_keywords_and_bad_sizes(name: str) -> None:
    model, data = _model_and_data(name)
    with pytest.raises(TypeError, match="epoch"):
        model.fit(data, epoch=3)  # type: ignore[call-arg]
    with pytest.raises(DataError, match="batch_size >= 1"):
        model.fit(data, batch_size=0)
    with pytest.raises(DataError, match="epochs >= 0"):
        model.fit(data, epochs=-1)
    with pytest.raises(DataError, match=r"torch\.Tensor"):
        model.fit(data.tolist())  # type: ignore[arg-type]


def test_autoregressive_refuses_wrong_sequence_length() -> None:
    model = AutoregressiveModel(vocab_size=5, seq_len=6, hidden=8)
    short, long = torch.zeros(2, 4, dtype=torch.long), torch.zeros(2, 9, dtype=torch.long)
    for entry in (model.log_prob, model.token_log_probs, model.fit):
        for tokens in (short, long):
            with pytest.raises(DataError, match="seq_len") as caught:
                entry(tokens)
            assert "\n" not in str(caught.value)
    with pytest.raises(DataError, match=r"outside 1\.\.seq_len=6"):
        model.sequence_logits(long)
    assert model.sequence_logits(short).shape == (2, 4, 5)  # prefixes stay usable
    assert model.log_prob(torch.zeros(2, 6, dtype=torch.long)).shape == (2,)
