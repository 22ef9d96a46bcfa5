"""The machine a benchmark ran on, as a record and as one line: the one description every
benchmark output (`gmrl bench all`'s report, the harness's cells and summaries) carries."""

import os
import platform
from typing import Any


def machine() -> dict[str, Any]:
    """The machine a run was measured on: platform, CPU count, Python and torch versions."""
    import torch

    return {"platform": platform.platform(), "machine": platform.machine(),
            "processor": platform.processor() or "unknown", "cpus": os.cpu_count(),
            "python": platform.python_version(), "torch": torch.__version__,
            "cuda": torch.cuda.is_available()}


def machine_line(info: dict[str, Any], date: str) -> str:
    """`machine()`'s record and a date as one line for a report."""
    gpu = "CUDA available" if info.get("cuda") else "no GPU"
    return (f"{info['platform']}, {info['cpus']} CPUs ({info['processor']}), {gpu}, "
            f"Python {info['python']}, torch {info['torch']}; {date}")
