"""Shared test set-up: one torch thread per worker (the suite runs with -n 2 on 2 cores)."""

import os

import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")
# Ray starts its workers at nice 15 by default: beside the other xdist worker (and anything else
# on a shared 2-core machine) they starve, and the two local-Ray tests took 20-90 s instead of
# 6-10 s. At nice 0 they share the cores like every other test process (results are unchanged).
os.environ.setdefault("RAY_worker_niceness", "0")


@pytest.fixture(autouse=True, scope="session")
def _single_thread() -> None:
    torch.set_num_threads(1)
