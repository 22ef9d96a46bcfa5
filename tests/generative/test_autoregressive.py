"""AutoregressiveModel (tokens) and BinnedAutoregressive (vectors): learning, exactness, I/O."""

import itertools

import pytest
import torch

from gmrl.core.errors import CheckpointError, ConfigError
from gmrl.generative import GenerativeModel, build_model
from gmrl.generative.autoregressive import AutoregressiveModel, BinnedAutoregressive
from gmrl.generative.metrics import gaussian_log_likelihood, mmd
from gmrl.generative.toy import toy_data

VOCAB, LENGTH = 6, 10


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class MarkovChain:
    """A random first-order Markov chain over VOCAB tokens with an exact sequence likelihood."""

    def __init__(self, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.init = torch._standard_gamma(torch.full((VOCAB,), 0.5), generator=g)
        self.init /= self.init.sum()
        trans = torch._standard_gamma(torch.full((VOCAB, VOCAB), 0.3), generator=g)
        self.trans = trans / trans.sum(1, keepdim=True)

    def sample(self, n: int, g: torch.Generator) -> torch.Tensor:
        x = torch.empty(n, LENGTH, dtype=torch.long)
        x[:, 0] = torch.multinomial(self.init, n, replacement=True, generator=g)
        for t in range(1, LENGTH):
            x[:, t] = torch.multinomial(self.trans[x[:, t - 1]], 1, generator=g).squeeze(1)
        return x

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return self.init[x[:, 0]].log() + self.trans[x[:, :-1], x[:, 1:]].log().sum(1)


@pytest.mark.parametrize("cell", ["gru", "lstm", "transformer"])
def test_mle_approaches_the_true_entropy(cell: str) -> None:
    chain = MarkovChain(seed=0)
    g = torch.Generator().manual_seed(1)
    train, test = chain.sample(2000, g), chain.sample(1000, g)
    best = -float(chain.log_prob(test).mean())  # the true model's held-out NLL
    torch.manual_seed(0)
    model = AutoregressiveModel(vocab_size=VOCAB, seq_len=LENGTH, cell=cell, lr=3e-3)
    with torch.no_grad():
        before = -float(model.log_prob(test).mean())
    history = model.fit(train, epochs=10, batch_size=64, generator=g)
    with torch.no_grad():
        after = -float(model.log_prob(test).mean())
    assert before > best + 5.0  # untrained: near uniform, far from the chain
    assert after < best + 0.4, f"{cell}: held-out NLL {after:.3f} vs true {best:.3f}"
    assert history.metrics["loss"][-1] < history.metrics["loss"][0]


@pytest.mark.parametrize("cell", ["gru", "lstm", "transformer"])
def test_log_prob_is_a_normalised_distribution(cell: str) -> None:
    torch.manual_seed(0)
    model = AutoregressiveModel(vocab_size=3, seq_len=4, cell=cell, hidden=16).eval()
    every = torch.tensor(list(itertools.product(range(3), repeat=4)))
    with torch.no_grad():
        total = model.log_prob(every).exp().sum()
        token = model.token_log_probs(every)
    assert total.item() == pytest.approx(1.0, abs=1e-5)
    assert token.shape == (81, 4)
    assert torch.allclose(token.sum(1), model.log_prob(every).detach())


@pytest.mark.parametrize("cell", ["gru", "lstm", "transformer"])
def test_step_logits_agree_with_teacher_forcing(cell: str) -> None:
    torch.manual_seed(0)
    model = AutoregressiveModel(vocab_size=VOCAB, seq_len=LENGTH, cell=cell).eval()
    tokens = model.sample(5, generator=torch.Generator().manual_seed(0))
    state, previous, steps = model.initial_state(5), model.start_tokens(5), []
    with torch.no_grad():
        for t in range(LENGTH):
            logits, state = model.step_logits(previous, state)
            steps.append(logits)
            previous = tokens[:, t]
        full = model.sequence_logits(tokens)
    assert full.shape == (5, LENGTH, VOCAB)
    assert torch.allclose(torch.stack(steps, 1), full, atol=1e-5)


@pytest.mark.parametrize("cell", ["gru", "transformer"])
def test_sample_with_prefix_keeps_it_and_is_reproducible(cell: str) -> None:
    torch.manual_seed(0)
    model = AutoregressiveModel(vocab_size=VOCAB, seq_len=LENGTH, cell=cell).eval()
    prefix = torch.tensor([[0, 1, 2], [5, 5, 5]])
    out = model.sample(6, generator=torch.Generator().manual_seed(3), prefix=prefix)
    again = model.sample(6, generator=torch.Generator().manual_seed(3), prefix=prefix)
    assert out.shape == (6, LENGTH) and out.dtype == torch.long
    assert torch.equal(out[:3, :3], prefix[0].expand(3, 3))
    assert torch.equal(out[3:, :3], prefix[1].expand(3, 3))
    assert torch.equal(out, again)
    assert int(out.min()) >= 0 and int(out.max()) < VOCAB  # BOS is never emitted
    assert len({tuple(row) for row in out[:3, 3:].tolist()}) > 1  # completions differ
    with pytest.raises(ValueError, match="multiple"):
        model.sample(5, prefix=prefix)


def test_greedy_sampling_and_low_temperature() -> None:
    torch.manual_seed(0)
    model = AutoregressiveModel(vocab_size=VOCAB, seq_len=LENGTH).eval()
    greedy = model.sample(4, temperature=0.0)
    assert (greedy == greedy[0]).all()


def test_save_load_round_trip_gives_identical_samples(tmp_path) -> None:
    torch.manual_seed(0)
    model = AutoregressiveModel(vocab_size=VOCAB, seq_len=LENGTH, cell="lstm", layers=2)
    model.fit(MarkovChain(0).sample(256, torch.Generator().manual_seed(0)), epochs=1)
    path = model.save(tmp_path / "ar.safetensors")
    loaded = GenerativeModel.load(path)
    assert isinstance(loaded, AutoregressiveModel) and loaded.cell == "lstm"
    first = model.sample(32, generator=torch.Generator().manual_seed(7))
    second = loaded.sample(32, generator=torch.Generator().manual_seed(7))
    assert torch.equal(first, second)
    with pytest.raises(CheckpointError):
        BinnedAutoregressive.load(path)  # an AutoregressiveModel is not a BinnedAutoregressive


def test_bad_inputs_give_clear_errors() -> None:
    with pytest.raises(ConfigError, match="cell"):
        AutoregressiveModel(vocab_size=4, seq_len=3, cell="rnn")
    with pytest.raises(ConfigError, match="heads"):
        AutoregressiveModel(vocab_size=4, seq_len=3, cell="transformer", hidden=30, heads=4)
    model = AutoregressiveModel(vocab_size=4, seq_len=3)
    with pytest.raises(ValueError, match="outside"):
        model.log_prob(torch.tensor([[0, 4, 1]]))
    with pytest.raises(ValueError, match="integer"):
        model.fit(torch.zeros(8, 3))
    with pytest.raises(ConfigError, match="bad parameters"):
        build_model("autoregressive", vocab_size=4)


def test_binned_model_beats_a_gaussian_and_an_untrained_model() -> None:
    g = torch.Generator().manual_seed(0)
    train, test = toy_data("two_moons", 4000, g), toy_data("two_moons", 1000, g)
    torch.manual_seed(0)
    model = build_model("binned-autoregressive", data_dim=2)
    threshold = 0.03
    untrained = mmd(model.sample(1000, generator=g), test)
    model.fit(train, epochs=10, batch_size=256, generator=g)
    trained = mmd(model.sample(1000, generator=g), test)
    assert untrained > threshold > trained, (untrained, trained)
    with torch.no_grad():
        held_out = float(model.log_prob(test).mean())
    assert held_out > gaussian_log_likelihood(train, test) + 0.5


def test_binned_log_prob_is_an_exact_density() -> None:
    torch.manual_seed(0)
    model = BinnedAutoregressive(data_dim=2, bins=12, low=-1.0, high=2.0, hidden=16).eval()
    centres = -1.0 + (torch.arange(12) + 0.5) * model.bin_width
    grid = torch.cartesian_prod(centres, centres)
    with torch.no_grad():
        mass = (model.log_prob(grid).exp() * model.bin_width**2).sum()
        outside = model.log_prob(torch.tensor([[0.0, 2.5], [-1.5, 0.0]]))
        samples = model.sample(500, generator=torch.Generator().manual_seed(0))
        centre = model.low + (model.quantise(samples) + 0.5) * model.bin_width
        same_bin = model.log_prob(samples) - model.log_prob(centre)
    assert mass.item() == pytest.approx(1.0, abs=1e-5)
    assert torch.isneginf(outside).all()
    assert samples.dtype == torch.float32 and samples.shape == (500, 2)
    assert bool(model.in_range(samples).all())
    assert same_bin.abs().max() < 1e-5  # density is constant inside a bin


def test_binned_save_load_and_out_of_range_warning(tmp_path) -> None:
    torch.manual_seed(0)
    model = BinnedAutoregressive(
        data_dim=3, bins=8, low=-1.0, high=1.0, cell="transformer", hidden=16
    )
    data = torch.rand(64, 3, generator=torch.Generator().manual_seed(0)) * 2.4 - 1.2
    with pytest.warns(UserWarning, match="outside"):
        model.fit(data, epochs=1, batch_size=32)
    loaded = GenerativeModel.load(model.save(tmp_path / "binned.safetensors"))
    first = model.sample(16, generator=torch.Generator().manual_seed(1))
    second = loaded.sample(16, generator=torch.Generator().manual_seed(1))
    assert torch.equal(first, second)
    state = model.training_state()
    assert "adam" in state["optimizers"]
