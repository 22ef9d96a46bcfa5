"""Fixtures shared by the benchmark-harness tests."""

from collections.abc import Callable
from typing import Any

import pytest

from gmrl.bench import harness


@pytest.fixture
def count_runs(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], list[str]]:
    """`count_runs("run_cell")` wraps that harness function so each cell it runs appends its key
    to the returned list (the cells a rerun actually ran, not the ones it skipped)."""

    def install(name: str) -> list[str]:
        calls: list[str] = []
        real = getattr(harness, name)

        def counting(cell: Any) -> Any:
            calls.append(cell.key)
            return real(cell)

        monkeypatch.setattr(harness, name, counting)
        return calls

    return install
