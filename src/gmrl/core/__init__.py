"""Foundation shared by every gmrl part: errors, seeding, devices, configs, checkpoints, runs.

`core` imports nothing else from gmrl, so any other box can depend on it.
"""

from gmrl.core.device import resolve_device
from gmrl.core.errors import CheckpointError, ConfigError, EnvError, GmrlError, RunInterrupted
from gmrl.core.seeding import seed_everything

__all__ = [
    "CheckpointError",
    "ConfigError",
    "EnvError",
    "GmrlError",
    "RunInterrupted",
    "resolve_device",
    "seed_everything",
]
