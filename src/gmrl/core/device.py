"""Device selection: `"auto"` takes CUDA when present, else the CPU."""

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from gmrl.core.errors import ConfigError


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """Turn `"auto"`, `"cpu"`, `"cuda"` or `"cuda:N"` into a `torch.device`.

    Asking for CUDA on a machine without it is a configuration error rather than a crash deep in
    the first forward pass.
    """
    if isinstance(spec, torch.device):
        return spec
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device '{spec}': use auto, cpu, cuda or cuda:N") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device '{spec}' requested but CUDA is not available: use device=auto")
    return device


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run a block with `count` torch intra-op threads (None: leave as is), then restore.

    gmrl's networks are small and their ops many; on a CPU, extra threads mostly spin, which
    on a busy 2-core machine made runs several times slower (measured in the recipes).
    """
    previous = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
