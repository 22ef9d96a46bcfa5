"""Shared test set-up: one torch thread per worker (the suite runs with -n 2 on 2 cores)."""

import os

import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True, scope="session")
def _single_thread() -> None:
    torch.set_num_threads(1)
