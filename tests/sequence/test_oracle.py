"""The oracle LSTM: the README's equations, its own-sample NLL of about 5.75, fast scoring."""

import numpy as np
import pytest
import torch

from gmrl.core.errors import ConfigError
from gmrl.sequence import data as data_module
from gmrl.sequence.oracle import OracleLSTM, random_oracle_weights


def _numpy_token_nll(weights: dict, tokens: np.ndarray) -> np.ndarray:
    """The README's row-vector equations written out independently in NumPy."""
    sigmoid = lambda x: 1.0 / (1.0 + np.exp(-x))  # noqa: E731
    n, length = tokens.shape
    hidden = weights["U_i"].shape[0]
    h, c = np.zeros((n, hidden)), np.zeros((n, hidden))
    previous = np.zeros(n, dtype=np.int64)
    out = np.zeros((n, length))
    for t in range(length):
        x = weights["embedding"][previous]
        gate = lambda g: x @ weights[f"W_{g}"] + h @ weights[f"U_{g}"] + weights[f"b_{g}"]  # noqa: B023, E731
        i, f, o = sigmoid(gate("i")), sigmoid(gate("f")), sigmoid(gate("o"))
        c = f * c + i * np.tanh(gate("c"))
        h = o * np.tanh(c)
        logits = h @ weights["W_out"] + weights["b_out"]
        log_z = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
        out[:, t] = log_z - logits[np.arange(n), tokens[:, t]]
        previous = tokens[:, t]
    return out


def test_oracle_follows_the_readme_equations():
    weights = random_oracle_weights(30, 8, seed=1)
    oracle = OracleLSTM(weights, seq_len=7)
    tokens = oracle.sample(16, torch.Generator().manual_seed(0))
    expected = _numpy_token_nll(weights, tokens.numpy())
    np.testing.assert_allclose(oracle.token_nll(tokens).numpy(), expected, rtol=1e-4, atol=1e-4)


def test_chunked_scoring_matches_one_pass():
    oracle = OracleLSTM(random_oracle_weights(30, 8, seed=2), seq_len=5)
    tokens = oracle.sample(50, torch.Generator().manual_seed(0), chunk=7)
    assert tokens.shape == (50, 5)
    torch.testing.assert_close(oracle.token_nll(tokens, chunk=8), oracle.token_nll(tokens))


def test_paper_oracle_scores_its_own_samples_at_5_75(paper_oracle):
    samples = paper_oracle.sample(2000, torch.Generator().manual_seed(0))
    assert samples.shape == (2000, 20)
    assert paper_oracle.nll(samples) == pytest.approx(5.75, abs=0.05)
    uniform = torch.randint(0, 5000, (500, 20), generator=torch.Generator().manual_seed(0))
    assert paper_oracle.nll(uniform) > 10.0  # random tokens are far less likely


def test_sampling_is_reproducible_with_a_generator(small_oracle):
    first = small_oracle.sample(20, torch.Generator().manual_seed(5))
    again = small_oracle.sample(20, torch.Generator().manual_seed(5))
    assert torch.equal(first, again)


def test_bad_samples_are_rejected(small_oracle):
    with pytest.raises(ValueError, match="token ids"):
        small_oracle.nll(torch.full((2, 10), 50))


def test_missing_or_broken_oracle_file_is_a_one_line_error(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="GMRL_SHARED_DATA"):
        data_module.shared_file("no_such_file.npz")
    broken = tmp_path / "seqgan_oracle.npz"
    np.savez(broken, embedding=np.zeros((3, 2), dtype=np.float32))
    with pytest.raises(ConfigError, match="lacks oracle arrays"):
        OracleLSTM.from_npz(broken)
    monkeypatch.setenv(data_module.ENV_VAR, str(tmp_path))
    assert data_module.oracle_path() == broken  # the environment variable wins
