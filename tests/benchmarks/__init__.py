"""Tests of the benchmark scripts' report logic (the scripts themselves are not tests)."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load_benchmark(name: str) -> ModuleType:
    """Import benchmarks/<name>.py (or benchmarks/diagnosis/<name>.py: a script, not a package)
    so its report logic can be tested; like running a script of benchmarks/, that folder is on
    the path (scripts import their siblings)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.append(str(BENCHMARKS))
    path = BENCHMARKS / f"{name}.py"
    if not path.is_file():  # an analysis script, in benchmarks/diagnosis/
        path = BENCHMARKS / "diagnosis" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name}_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

