"""A growing store of real transitions (NumPy), exported as the tensor batches world models fit.

Kept separate from SB3's replay buffers: the world model wants every real transition (no
eviction by default), and the store must checkpoint as plain arrays (safetensors), never pickles.
It lives in the RL layer because two combinations use it: `gmrl.worldmodel` (the agent's store
of real experience) and `gmrl.synthetic` (`random_transitions` for the augmentation study).
"""

from typing import Any

import numpy as np
import torch

FIELDS = ("obs", "action", "reward", "next_obs", "terminated", "truncated")
TransitionBatch = dict[str, torch.Tensor]
"""What `TransitionStore.tensors` exports and world models fit: one tensor per field of
`FIELDS`, the batch on the first axis. (`gmrl.synthetic.layout.Transitions` is the NumPy
dataclass the synthetic buffer exchanges with SB3; this is its tensor counterpart.)"""


class TransitionStore:
    """Append-only arrays of real transitions with an optional capacity (oldest dropped first)."""

    def __init__(self, capacity: int | None = None) -> None:
        self.capacity = capacity
        self._data: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return 0 if not self._data else len(self._data["obs"])

    def add(self, **batch: Any) -> None:
        """Append a batch: each field an array whose first axis is the batch."""
        missing = [f for f in FIELDS if f not in batch]
        if missing:
            raise KeyError(f"transition batch lacks {missing}")
        rows = {f: np.asarray(batch[f]) for f in FIELDS}
        if not self._data:
            self._data = {f: v.copy() for f, v in rows.items()}
        else:
            self._data = {f: np.concatenate([self._data[f], rows[f]]) for f in FIELDS}
        if self.capacity is not None and len(self) > self.capacity:
            self._data = {f: v[-self.capacity :] for f, v in self._data.items()}

    def add_step(
        self, obs: Any, action: Any, reward: float, next_obs: Any, terminated: bool,
        truncated: bool,
    ) -> None:
        """Append one env step (float32 observations and reward, actions as given)."""
        self.add(
            obs=np.asarray(obs, dtype=np.float32)[None],
            action=np.asarray(action)[None],
            reward=np.array([reward], dtype=np.float32),
            next_obs=np.asarray(next_obs, dtype=np.float32)[None],
            terminated=np.array([terminated]),
            truncated=np.array([truncated]),
        )

    def tensors(self) -> TransitionBatch:
        """All transitions as a dict of tensors (floats; discrete actions stay integers)."""
        out = {}
        for name, value in self._data.items():
            tensor = torch.as_tensor(value)
            out[name] = tensor.float() if tensor.is_floating_point() else tensor
        return out

    def sample_obs(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """`n` real states drawn uniformly (start states for imagined rollouts)."""
        return self._data["obs"][rng.integers(0, len(self), size=n)]

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {name: torch.as_tensor(value) for name, value in self._data.items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self._data = {name: state[name].numpy().copy() for name in FIELDS if name in state}


def random_transitions(env: Any, n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """`n` transitions of a uniformly random policy in `env` (a first data set for a model)."""
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    store = TransitionStore()
    for _ in range(n):
        action = env.action_space.sample()
        nxt, reward, term, trunc, _ = env.step(action)
        store.add_step(obs, action, float(reward), nxt, term, trunc)
        obs = env.reset()[0] if term or trunc else nxt
    return store.tensors()
