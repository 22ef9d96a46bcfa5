"""Start (or join) Ray for work spread over cores or machines: one place, quiet, checked.

Used by `gmrl sweep` (trials) and `gmrl bench` (benchmark cells). Ray is imported only inside
`ray_session`, so the rest of gmrl works without it. By default a local Ray is started and
stopped afterwards, quietly (no dashboard, no worker output, no usage report); `address` joins a
running cluster instead (`ray://HOST:PORT`, `HOST:PORT` or `auto` for a running local instance).
A Ray the caller already started (`ray.init` from Python) is used as it is and left running.
"""

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gmrl.core.errors import GmrlError
from gmrl.core.imports import first_line

LOCAL_OBJECT_STORE = 128 * 2**20  # trials and cells pass almost nothing through the store
_QUIET_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",  # offline: no usage report
    "RAY_AIR_NEW_OUTPUT": "0",  # with verbose=0: no progress tables
    "RAY_CHDIR_TO_TRIAL_DIR": "0",  # trials run where they were started (relative config paths)
}


@dataclass
class Resources:
    """Where and how wide work runs (none of it changes a result)."""

    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_concurrent: int | None = None
    address: str | None = None
    num_cpus: int | None = None  # a local Ray's CPUs (default: all)


@contextlib.contextmanager
def ray_session(resources: Resources, address_option: str = "--address") -> Iterator[None]:
    """Ray for the block: a quiet local one by default, the cluster at `address` if given.

    `address_option` is the command-line flag named in error messages."""
    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)
    import ray

    if ray.is_initialized():  # a caller's own Ray (e.g. from Python): use it, leave it running
        yield
        return
    if resources.address is not None:
        check_reachable(resources.address, address_option=address_option)
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR}
    if resources.address is None:
        options.update(num_cpus=resources.num_cpus, include_dashboard=False,
                       object_store_memory=LOCAL_OBJECT_STORE)
    try:
        ray.init(address=resources.address, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"at '{resources.address}'" if resources.address else "locally"
        raise GmrlError(
            f"cannot start Ray {where} ({first_line(exc)}): check {address_option} and that the "
            f"cluster is up (or omit {address_option} for a local Ray)"
        ) from None
    try:
        if resources.address is None:  # a local Ray never grows: refuse what would wait forever
            check_fits(ray.cluster_resources(), resources)
        yield
    finally:
        ray.shutdown()


def check_reachable(address: str, timeout: float = 5.0, address_option: str = "--address") -> None:
    """One line when `host:port` (or `ray://host:port`) does not answer a TCP connection (Ray
    itself retries a wrong address for minutes)."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():  # `auto` and the like: Ray resolves those itself
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise GmrlError(
            f"cannot reach Ray at '{address}' ({reason}): check {address_option} and that the "
            f"cluster is up (or omit {address_option} for a local Ray)"
        ) from None


def check_fits(available: dict[str, float], resources: Resources) -> None:
    """One line when a single trial needs more CPUs or GPUs than the local Ray has."""
    for key, option, wanted in (("CPU", "--cpus-per-trial", resources.cpus_per_trial),
                                ("GPU", "--gpus-per-trial", resources.gpus_per_trial)):
        have = float(available.get(key, 0.0))
        if wanted > have:
            raise GmrlError(
                f"a trial needs {wanted:g} {key}(s) but the local Ray has {have:g}: lower "
                f"{option} (or give --address of a cluster that has them)"
            )
