"""Device selection: `"auto"` takes CUDA when present, else the CPU."""

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
