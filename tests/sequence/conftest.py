"""Shared fixtures for the sequence tests: the paper's oracle (skipped when absent) and a
small random oracle of the same kind for fast learning tests."""

import pytest
import torch

from gmrl.sequence.data import ORACLE_FILE, find_shared_file
from gmrl.sequence.oracle import OracleLSTM


@pytest.fixture(autouse=True)
def _one_thread():
    """Small models run fastest on one thread (and the suite shares two cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def paper_oracle() -> OracleLSTM:
    path = find_shared_file(ORACLE_FILE)
    if path is None:
        pytest.skip(f"{ORACLE_FILE} not found (set GMRL_SHARED_DATA to the shared/data folder)")
    return OracleLSTM.from_npz(path)


@pytest.fixture
def small_oracle() -> OracleLSTM:
    return OracleLSTM.random(vocab_size=50, hidden=16, seq_len=10, seed=0)


@pytest.fixture(scope="session")
def peaked_oracle() -> OracleLSTM:
    """A small oracle as peaked as the paper's (own samples score 0.52 nats vs ln 50 = 3.9)."""
    return OracleLSTM.random(vocab_size=50, hidden=16, seq_len=10, seed=0, scale=3.0)


@pytest.fixture
def warm_generator(peaked_oracle):
    """`make(seed, epochs)` -> (torch generator, 1,000 oracle sequences, MLE-trained model)."""
    from gmrl.sequence.baselines import build_generator

    def make(seed: int, epochs: int):
        g = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        train = peaked_oracle.sample(1000, g)
        model = build_generator(50, 10, 16, 16)
        model.fit(train, epochs=epochs, batch_size=32, generator=g)
        return g, train, model

    return make
