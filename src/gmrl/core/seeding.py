"""Seeding in one place, and capture/restore of every random number generator gmrl uses.

A run is reproducible when it calls `seed_everything(seed)` once at the start and threads the
returned `torch.Generator` (or generators derived from the seed) through its work. Checkpoints
store `rng_state()` so that a resumed run draws exactly the numbers an uninterrupted one would.
"""

import contextlib
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and CUDA) and return a CPU generator seeded with `seed`."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def rng_state() -> dict[str, torch.Tensor]:
    """The state of the global Python, NumPy and torch generators, as tensors."""
    version, mt_state, gauss = random.getstate()
    _, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state(legacy=True)
    state = {
        "python": torch.tensor([version, *mt_state], dtype=torch.int64),
        "python_gauss": torch.tensor([float("nan") if gauss is None else gauss]),
        "numpy_keys": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
        "numpy_meta": torch.tensor([np_pos, np_has_gauss], dtype=torch.int64),
        "numpy_gauss": torch.tensor([np_gauss], dtype=torch.float64),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        for index, cuda_state in enumerate(torch.cuda.get_rng_state_all()):
            state[f"cuda_{index}"] = cuda_state
    return state


def set_rng_state(state: dict[str, torch.Tensor]) -> None:
    """Restore generators captured by `rng_state`."""
    python = state["python"].tolist()
    gauss = float(state["python_gauss"][0])
    random.setstate((python[0], tuple(python[1:]), None if gauss != gauss else gauss))
    pos, has_gauss = state["numpy_meta"].tolist()
    keys = state["numpy_keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, pos, has_gauss, float(state["numpy_gauss"][0])))
    torch.set_rng_state(state["torch"])
    if torch.cuda.is_available():
        cuda_states = [state[k] for k in sorted(state) if k.startswith("cuda_")]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)


# --------------------------------------------------------------------------- per-purpose streams
def derive_seed(seed: int, purpose: str) -> int:
    """A 63-bit seed for one `purpose` ("train_data", "test_data", "eval_env"...) of a run.

    Seeds are spawned from `numpy.random.SeedSequence(seed)` keyed by a stable hash of the
    purpose, so streams of different purposes or different run seeds never overlap (unlike
    hand-written offsets such as `seed + 10_000`, where one run's test set is another's
    training set).
    """
    import zlib

    key = zlib.crc32(purpose.encode("utf-8"))
    sequence = np.random.SeedSequence(entropy=int(seed) % 2**128, spawn_key=(key,))
    low, high = (int(word) for word in sequence.generate_state(2, dtype=np.uint32))
    return (low | high << 32) >> 1  # 63 bits: fits torch's and NumPy's seed ranges


def env_reset_seed(seed: int, purpose: str) -> int:
    """`derive_seed` below 2**31: a reset seed every env takes (dm_control's legacy
    `RandomState` refuses 2**32 and above; some envs keep seeds in an int32)."""
    return derive_seed(seed, purpose) % 2**31


def torch_generator(seed: int, purpose: str) -> torch.Generator:
    """A CPU `torch.Generator` seeded for `purpose` (see `derive_seed`)."""
    generator = torch.Generator()
    generator.manual_seed(derive_seed(seed, purpose))
    return generator


def numpy_rng(seed: int, purpose: str) -> np.random.Generator:
    """A NumPy `Generator` seeded for `purpose` (see `derive_seed`)."""
    return np.random.default_rng(derive_seed(seed, purpose))


# --------------------------------------------------------------------------- owned global state
class OwnedGlobalRng:
    """A private copy of the global Python, NumPy and torch generators, for code that can only
    draw from the globals (Stable-Baselines3 samples actions, minibatches and exploration from
    them).

    `with rng.active():` puts this copy in place of the globals; on leaving, it keeps where the
    copy got to and gives the caller's generators back untouched. Code run only inside `active`
    then follows `seed` alone, whatever else ran in the process before or between its calls. It
    starts as `seed_everything(seed)` leaves the globals. `state_dict` / `load_state_dict` carry
    it in checkpoints (as `rng_state` tensors).
    """

    def __init__(self, seed: int) -> None:
        self._depth = 0
        caller = _global_state()
        try:
            seed_everything(seed)
            self._state = _global_state()
        finally:
            _set_global_state(caller)

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Draw from this copy inside the block (re-entrant: an inner block changes nothing)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        caller = _global_state()
        _set_global_state(self._state)
        self._depth = 1
        try:
            yield
        finally:
            self._depth = 0
            self._state = _global_state()
            _set_global_state(caller)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """This copy's state as `rng_state` tensors."""
        with self.active():
            return rng_state()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Continue from a `state_dict`."""
        with self.active():
            set_rng_state(state)


_GlobalState = tuple[Any, Any, torch.Tensor, list[torch.Tensor] | None]


def _global_state() -> _GlobalState:
    """The global generators' states in their native forms (cheaper than `rng_state`)."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    return random.getstate(), np.random.get_state(), torch.get_rng_state(), cuda


def _set_global_state(state: _GlobalState) -> None:
    python, numpy_state, torch_state, cuda = state
    random.setstate(python)
    np.random.set_state(numpy_state)
    torch.set_rng_state(torch_state)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)
