"""Shared fixtures for the sequence tests: the paper's oracle (skipped when absent) and a
small random oracle of the same kind for fast learning tests."""

import pytest
import torch

from gmrl.sequence.data import ORACLE_FILE, find_shared_file
from gmrl.sequence.oracle import OracleLSTM


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def paper_oracle() -> OracleLSTM:
    path = find_shared_file(ORACLE_FILE)
    if path is None:
        pytest.skip(f"{ORACLE_FILE} not found (set GMRL_SHARED_DATA to the shared/data folder)")
    return OracleLSTM.from_npz(path)


@pytest.fixture
def small_oracle() -> OracleLSTM:
    return OracleLSTM.random(vocab_size=50, hidden=16, seq_len=10, seed=0)
