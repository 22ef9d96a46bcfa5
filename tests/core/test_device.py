"""Device selection and the torch thread-count guard."""

import pytest
import torch

from gmrl.core.device import resolve_device, torch_threads
from gmrl.core.errors import ConfigError


def test_auto_and_cpu() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


def test_bad_device_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        resolve_device("tpu:7")


def test_torch_threads_sets_then_restores() -> None:
    before = torch.get_num_threads()
    target = 2 if before == 1 else 1
    with pytest.raises(RuntimeError), torch_threads(target):
        assert torch.get_num_threads() == target
        raise RuntimeError("the block failed")
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before
