"""Whole transitions as flat vectors, and generated vectors back as valid transitions.

A transition (obs, action, reward, next_obs, terminated) becomes one row
`[obs | action | reward | next_obs | terminated]` for a generative model of vectors. Discrete
actions are one-hot columns (argmax on the way back). Decoding enforces what real transitions
satisfy: observations inside the observation space's finite bounds, actions inside the buffer's
action bounds (SB3 off-policy agents store Box actions scaled to [-1, 1]), `terminated` rounded
to 0 or 1. Rows with NaN/inf are dropped; how many rows needed clipping is reported, so a
generator that drifts out of the state space shows up in the logs instead of in the Q-values.
"""

from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from gmrl.core.errors import ConfigError


@dataclass
class Transitions:
    """A batch of transitions as NumPy arrays (actions: float Box values or int indices)."""

    observations: np.ndarray  # (n, obs_dim) float32
    actions: np.ndarray  # (n, action_dim) float32, or (n, 1) for Discrete (index as float)
    rewards: np.ndarray  # (n,) float32
    next_observations: np.ndarray  # (n, obs_dim) float32
    terminated: np.ndarray  # (n,) float32 in {0, 1}

    def __len__(self) -> int:
        return len(self.rewards)


@dataclass
class DecodeReport:
    """What decoding had to fix: dropped non-finite rows, rows clipped into bounds."""

    rows: int
    dropped_nonfinite: int
    clipped_rows: int

    @property
    def out_of_bounds_fraction(self) -> float:
        return self.clipped_rows / max(self.rows, 1)


class TransitionLayout:
    """Column layout of flat transition vectors for one observation space and action space.

    Args:
        observation_space: a Box (any shape; flattened).
        action_space: a Box or Discrete space.
        action_bounds: bounds of the actions *as stored* (default: the Box's own bounds);
            `SyntheticReplayBuffer` passes (-1, 1), the scale SB3 off-policy agents store.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        action_bounds: tuple[float, float] | None = None,
    ) -> None:
        if not isinstance(observation_space, spaces.Box):
            raise ConfigError(
                f"synthetic transitions need a Box observation space, got "
                f"{type(observation_space).__name__}: wrap the env (e.g. gymnasium's "
                "FlattenObservation) or use a Box-observation task"
            )
        self.obs_dim = int(np.prod(observation_space.shape))
        low = np.asarray(observation_space.low, dtype=np.float64).reshape(-1)
        high = np.asarray(observation_space.high, dtype=np.float64).reshape(-1)
        self.obs_low = np.where(np.isfinite(low), low, -np.inf)
        self.obs_high = np.where(np.isfinite(high), high, np.inf)
        if isinstance(action_space, spaces.Discrete):
            self.discrete_actions: int | None = int(action_space.n)
            self.action_columns = self.discrete_actions
            self.action_low = self.action_high = np.zeros(0)
        elif isinstance(action_space, spaces.Box):
            self.discrete_actions = None
            self.action_columns = int(np.prod(action_space.shape))
            if action_bounds is not None:
                self.action_low = np.full(self.action_columns, float(action_bounds[0]))
                self.action_high = np.full(self.action_columns, float(action_bounds[1]))
            else:
                self.action_low = np.asarray(action_space.low, dtype=np.float64).reshape(-1)
                self.action_high = np.asarray(action_space.high, dtype=np.float64).reshape(-1)
        else:
            raise ConfigError(
                f"synthetic transitions need Box or Discrete actions, got "
                f"{type(action_space).__name__}"
            )
        self.width = 2 * self.obs_dim + self.action_columns + 2

    # ------------------------------------------------------------------ column slices
    @property
    def obs_slice(self) -> slice:
        return slice(0, self.obs_dim)

    @property
    def action_slice(self) -> slice:
        return slice(self.obs_dim, self.obs_dim + self.action_columns)

    @property
    def reward_column(self) -> int:
        return self.obs_dim + self.action_columns

    @property
    def next_obs_slice(self) -> slice:
        start = self.reward_column + 1
        return slice(start, start + self.obs_dim)

    @property
    def terminated_column(self) -> int:
        return self.width - 1

    # ------------------------------------------------------------------ conversion
    def encode(self, batch: Transitions) -> np.ndarray:
        """Rows of shape (n, width), float32."""
        n = len(batch)
        if self.discrete_actions is not None:
            index = np.asarray(batch.actions).reshape(n).astype(np.int64)
            actions = np.eye(self.discrete_actions, dtype=np.float32)[index]
        else:
            actions = np.asarray(batch.actions, dtype=np.float32).reshape(n, self.action_columns)
        return np.concatenate(
            [
                np.asarray(batch.observations, dtype=np.float32).reshape(n, self.obs_dim),
                actions,
                np.asarray(batch.rewards, dtype=np.float32).reshape(n, 1),
                np.asarray(batch.next_observations, dtype=np.float32).reshape(n, self.obs_dim),
                np.asarray(batch.terminated, dtype=np.float32).reshape(n, 1),
            ],
            axis=1,
        )

    def decode(self, rows: np.ndarray) -> tuple[Transitions, DecodeReport]:
        """Valid transitions from generated rows (see the module doc) and what was fixed."""
        rows = np.asarray(rows, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != self.width:
            raise ValueError(f"expected rows of width {self.width}, got shape {rows.shape}")
        finite = np.isfinite(rows).all(axis=1)
        kept = rows[finite]
        obs, next_obs = kept[:, self.obs_slice], kept[:, self.next_obs_slice]
        outside = ((obs < self.obs_low) | (obs > self.obs_high)).any(axis=1)
        outside |= ((next_obs < self.obs_low) | (next_obs > self.obs_high)).any(axis=1)
        obs = np.clip(obs, self.obs_low, self.obs_high)
        next_obs = np.clip(next_obs, self.obs_low, self.obs_high)
        raw_actions = kept[:, self.action_slice]
        if self.discrete_actions is not None:
            actions = raw_actions.argmax(axis=1).reshape(-1, 1).astype(np.float64)
        else:
            outside |= ((raw_actions < self.action_low) | (raw_actions > self.action_high)).any(1)
            actions = np.clip(raw_actions, self.action_low, self.action_high)
        terminated = (kept[:, self.terminated_column] >= 0.5).astype(np.float64)
        batch = Transitions(
            observations=obs.astype(np.float32),
            actions=actions.astype(np.float32),
            rewards=kept[:, self.reward_column].astype(np.float32),
            next_observations=next_obs.astype(np.float32),
            terminated=terminated.astype(np.float32),
        )
        report = DecodeReport(
            rows=len(rows), dropped_nonfinite=int((~finite).sum()), clipped_rows=int(outside.sum())
        )
        return batch, report
