"""Inverse-CDF token sampling draws from the softmax; NLL_test honours the temperature."""

import math

import torch

from gmrl.sequence.baselines import build_generator
from gmrl.sequence.generation import draw_tokens, model_nll, sample_sequences


def test_draw_tokens_matches_the_softmax_frequencies():
    probs = torch.tensor([0.2, 0.5, 0.3, 0.0])
    logits = torch.log(probs.clamp_min(1e-12)).expand(20_000, 4)
    tokens = draw_tokens(logits, torch.Generator().manual_seed(0))
    freq = torch.bincount(tokens, minlength=4).float() / len(tokens)
    assert torch.allclose(freq, probs, atol=0.015)
    assert int(freq[3]) == 0


def test_temperature_zero_is_greedy_and_low_temperature_sharpens():
    logits = torch.tensor([[0.0, 1.0, 0.5]]).expand(5_000, 3)
    assert bool((draw_tokens(logits, temperature=0) == 1).all())
    g = torch.Generator().manual_seed(0)
    cold = (draw_tokens(logits, g, temperature=0.3) == 1).float().mean()
    warm = (draw_tokens(logits, g, temperature=1.0) == 1).float().mean()
    assert cold > warm + 0.2


def test_sampling_is_chunk_invariant_in_shape_and_nll_uses_temperature():
    torch.manual_seed(0)
    model = build_generator(11, 6, 4, 4)
    samples = sample_sequences(model, 25, torch.Generator().manual_seed(1), chunk=10)
    assert samples.shape == (25, 6) and samples.max() < 11
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()  # uniform model: NLL is log(11) at any temperature
    assert math.isclose(model_nll(model, samples), math.log(11), rel_tol=1e-5)
    assert math.isclose(model_nll(model, samples, temperature=0.5), math.log(11), rel_tol=1e-5)
