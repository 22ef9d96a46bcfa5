"""The seeded Markov chain data source: reproducible, normalised, and its likelihood is exact."""

import itertools

import pytest
import torch

from gmrl.core.errors import ConfigError
from gmrl.sequence.markov import MarkovChain


def test_chain_is_seeded_and_its_likelihood_sums_to_one() -> None:
    chain = MarkovChain.random(3, 0.5, torch.Generator().manual_seed(0))
    again = MarkovChain.random(3, 0.5, torch.Generator().manual_seed(0))
    assert torch.equal(chain.transition, again.transition)
    every = torch.tensor(list(itertools.product(range(3), repeat=4)))
    assert float(chain.log_prob(every).exp().sum()) == pytest.approx(1.0, abs=1e-5)
    a = chain.sample(50, 4, torch.Generator().manual_seed(1))
    b = chain.sample(50, 4, torch.Generator().manual_seed(1))
    assert a.shape == (50, 4) and torch.equal(a, b)


def test_empirical_transitions_match_the_chain() -> None:
    chain = MarkovChain.random(4, 1.0, torch.Generator().manual_seed(0))
    tokens = chain.sample(4000, 6, torch.Generator().manual_seed(2))
    counts = torch.zeros(4, 4)
    counts.index_put_((tokens[:, :-1].reshape(-1), tokens[:, 1:].reshape(-1)),
                      torch.ones(tokens[:, 1:].numel()), accumulate=True)
    empirical = counts / counts.sum(1, keepdim=True)
    assert torch.allclose(empirical, chain.transition, atol=0.05)


def test_bad_chain_settings() -> None:
    with pytest.raises(ConfigError):
        MarkovChain.random(1)
