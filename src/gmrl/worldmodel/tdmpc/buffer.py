"""Replay of real transitions, sampled as short sub-trajectories from any step of an episode.

Each stored step keeps its episode number. A sequence may start at any step of a training
episode; its steps past the episode's end come with `mask` 0 and are left out of every loss. So a
terminal step is seen at every position of a rollout, not only the last: were it only ever last,
a termination head could learn "the third imagined step" instead of "the pole fell" (it did:
recall 0 on held-out steps before this). A share of the steps (`holdout_fraction`, whole
episodes) is never trained on: reward and termination are scored on them (`holdout`), which is
how the agent's termination precision and recall are measured honestly.
When full, the oldest half is dropped.
"""

import bisect
from typing import Any

import numpy as np
import torch

FIELDS = ("obs", "action", "reward", "next_obs", "terminated")


class SequenceBuffer:
    """Stores steps; samples (batch, horizon) sequences from training episodes."""

    def __init__(self, obs_dim: int, action_width: int, capacity: int, horizon: int,
                 holdout_fraction: float, rng: np.random.Generator) -> None:
        self.capacity, self.horizon, self.holdout_fraction = capacity, horizon, holdout_fraction
        self.rng = rng
        self.data = {
            "obs": np.zeros((capacity, obs_dim), np.float32),
            "action": np.zeros((capacity, action_width), np.float32),
            "reward": np.zeros(capacity, np.float32),
            "next_obs": np.zeros((capacity, obs_dim), np.float32),
            "terminated": np.zeros(capacity, np.float32),
        }
        self.episode = np.zeros(capacity, np.int64)
        self.holdout = np.zeros(capacity, bool)
        self.size = 0
        self.episodes = 0  # episode number of the current episode
        self.current_holdout = False
        self.starts: list[int] = []
        self.train_terminations = 0

    def __len__(self) -> int:
        return self.size

    def new_episode(self) -> None:
        """Mark the start of a new episode (called at every reset).

        The episode is held out when the held-out share of the stored steps has fallen below
        `holdout_fraction` (the first episode always trains). So held-out episodes exist from a
        run's first few dozen steps on, whatever the episode length, and their share stays at
        the fraction (above it by at most one episode). A coin per episode, as before, left
        CartPole runs of 4,000 steps (8-20 episodes) with none at all, and so with no
        termination precision or recall to log."""
        self.episodes += 1
        held = int(self.holdout[: self.size].sum())
        self.current_holdout = bool(self.holdout_fraction > 0 and self.size > 0
                                    and held < self.holdout_fraction * self.size)

    def add(self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray,
            terminated: bool) -> None:
        if self.size == self.capacity:
            self._drop_oldest_half()
        i = self.size
        values: tuple[Any, ...] = (obs, action, reward, next_obs, terminated)
        for key, value in zip(FIELDS, values, strict=True):
            self.data[key][i] = value
        self.episode[i] = self.episodes
        self.holdout[i] = self.current_holdout
        self.size += 1
        if not self.current_holdout:
            self.train_terminations += int(terminated)
            self.starts.append(i)

    @property
    def train_steps(self) -> int:
        return int(self.size - self.holdout[: self.size].sum())

    def _usable(self) -> int:
        """How many starts have `horizon` stored steps after them (starts are increasing)."""
        return bisect.bisect_right(self.starts, self.size - self.horizon)

    def ready(self) -> bool:
        return self._usable() > 0

    def sample(self, batch: int, device: torch.device, td_steps: int | None = None,
               discount: float = 0.99, absorbing: bool = False,
               bound_steps: int | None = None) -> dict[str, torch.Tensor]:
        """Tensors shaped (horizon, batch, ...): obs, action, reward, next_obs, terminated,
        `mask` (1 while the step belongs to the start's episode) and every step's n-step TD
        ingredients (`n_step_parts`): `n_return`, `bootstrap_weight`, and the distinct
        bootstrap states `bootstrap_obs` (U, obs), each step's row among them
        `bootstrap_index` (H, B), and `bootstrap_action`, the action stored next from each
        (`bootstrap_acted` 1 where one was: not at a time-limit end or the newest step; after
        a termination the bootstrap weight is 0 anyway). With `td_steps` None a sequence's
        targets share one bootstrap state, so U is about B, not H x B: the bootstrap value,
        the costliest part of a target, is computed once per state.

        `td_steps` None sums each step's rewards to the end of its sampled sequence (position t
        of H sums H - t rewards, so every target bootstraps at the same state); an int n sums n
        along the stored episode, past the sequence if need be.

        `absorbing`: the steps of a sequence after its episode terminated are not left out but
        filled with the absorbing terminal state (obs and next_obs the terminal observation,
        reward 0, terminated 1, no return and no bootstrap), so the model learns that a
        terminal state stays put and is worth nothing, rather than leaving the value and the
        dynamics there untrained (`absorbing_steps` marks them). Time-limit ends stay out.

        `bound_steps` n: every step's n-step parts again, for a lower bound on its target:
        `bound_return`, `bound_weight` and the state to bootstrap at, `bound_obs` (H, B, obs)."""
        pick = self.rng.integers(self._usable(), size=batch)
        # index the list (no copy of all starts into an array on every update)
        starts = np.fromiter((self.starts[i] for i in pick), dtype=np.int64, count=batch)
        index = (starts[None, :] + np.arange(self.horizon)[:, None])  # (H, B)
        data = {key: self.data[key][index] for key in FIELDS}
        same = self.episode[index] == self.episode[starts][None, :]
        steps = (np.arange(self.horizon, 0, -1)[:, None] if td_steps is None
                 else np.full((1, 1), td_steps))
        n_return, weight, last = self.n_step_parts(index, steps, discount)
        bound = self.n_step_parts(index, bound_steps, discount) if bound_steps else None
        after = np.zeros_like(same)
        if absorbing:
            ends = (data["terminated"] > 0.5) & same
            after = (np.cumsum(ends, 0) - ends) > 0  # a termination came earlier in the sequence
            if after.any():
                terminal = index[ends.argmax(0), np.arange(index.shape[1])]  # (B,)
                state = np.broadcast_to(self.data["next_obs"][terminal], data["obs"].shape)
                data["obs"] = np.where(after[..., None], state, data["obs"])
                data["next_obs"] = np.where(after[..., None], state, data["next_obs"])
                data["reward"] = np.where(after, 0.0, data["reward"]).astype(np.float32)
                data["terminated"] = np.where(after, 1.0, data["terminated"]).astype(np.float32)
                n_return = np.where(after, 0.0, n_return).astype(np.float32)
                weight = np.where(after, 0.0, weight).astype(np.float32)
                last = np.where(after, terminal[None, :], last)
                if bound is not None:
                    bound = (np.where(after, 0.0, bound[0]).astype(np.float32),
                             np.where(after, 0.0, bound[1]).astype(np.float32),
                             np.where(after, terminal[None, :], bound[2]))
        out = {key: torch.as_tensor(value, device=device) for key, value in data.items()}
        out["mask"] = torch.as_tensor((same | after).astype(np.float32), device=device)
        out["absorbing_steps"] = torch.as_tensor(after.astype(np.float32), device=device)
        out["n_return"] = torch.as_tensor(n_return, device=device)
        out["bootstrap_weight"] = torch.as_tensor(weight, device=device)
        # the targets of a sequence mostly share one bootstrap state: each distinct one once
        unique, inverse = np.unique(last, return_inverse=True)
        out["bootstrap_obs"] = torch.as_tensor(self.data["next_obs"][unique], device=device)
        out["bootstrap_index"] = torch.as_tensor(inverse.reshape(last.shape), device=device)
        following = np.minimum(unique + 1, self.size - 1)  # the step taken from bootstrap_obs
        acted = (unique + 1 < self.size) & (self.episode[following] == self.episode[unique])
        out["bootstrap_action"] = torch.as_tensor(self.data["action"][following], device=device)
        out["bootstrap_acted"] = torch.as_tensor(acted.astype(np.float32), device=device)
        if bound is not None:
            out["bound_return"] = torch.as_tensor(bound[0], device=device)
            out["bound_weight"] = torch.as_tensor(bound[1], device=device)
            out["bound_obs"] = torch.as_tensor(self.data["next_obs"][bound[2]], device=device)
        return out

    def n_step_parts(self, index: np.ndarray, td_steps: int | np.ndarray, discount: float
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For stored steps `index` (any shape): the discounted sum of up to `td_steps` real
        rewards (an int, or an array broadcastable to `index`: a count per step) along each
        step's own episode, the weight of the bootstrap value
        (`discount^k`, 0 once the episode terminated), and the step whose `next_obs` the
        bootstrap value is taken at.

        The sum stops at a termination (no bootstrap), at a time-limit end (bootstrap at the
        last step) and at the newest stored step (bootstrap there). So `td_steps` is free of
        the training horizon: values can travel more real steps back per update than the
        model's rollout is long.
        """
        counts = np.broadcast_to(np.asarray(td_steps), index.shape)
        n_return = np.zeros(index.shape, np.float64)
        weight = np.ones(index.shape, np.float64)
        last = index.copy()
        alive = np.ones(index.shape, bool)
        episode = self.episode[index]
        for k in range(int(counts.max())):
            step = np.minimum(index + k, self.size - 1)
            alive &= (k < counts) & (index + k < self.size) & (self.episode[step] == episode)
            n_return += np.where(alive, weight * self.data["reward"][step], 0.0)
            last = np.where(alive, step, last)
            weight = np.where(alive, weight * discount, weight)
            ended = alive & (self.data["terminated"][step] > 0.5)
            weight = np.where(ended, 0.0, weight)
            alive &= ~ended
        return n_return.astype(np.float32), weight.astype(np.float32), last

    def holdout_steps(self, limit: int, device: torch.device) -> dict[str, torch.Tensor]:
        """Up to `limit` most recent held-out steps, as flat tensors."""
        where = np.flatnonzero(self.holdout[: self.size])[-limit:]
        return {key: torch.as_tensor(self.data[key][where], device=device) for key in FIELDS}

    def _drop_oldest_half(self) -> None:
        keep = slice(self.capacity // 2, self.capacity)
        size = self.capacity - self.capacity // 2
        for key in FIELDS:
            self.data[key][:size] = self.data[key][keep]
        self.episode[:size] = self.episode[keep]
        self.holdout[:size] = self.holdout[keep]
        self.size = size
        self.starts = self._valid_starts()
        train = ~self.holdout[:size]
        self.train_terminations = int(self.data["terminated"][:size][train].sum())

    def _valid_starts(self) -> list[int]:
        return np.flatnonzero(~self.holdout[: self.size]).tolist()

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        n = self.size
        state: dict[str, Any] = {key: torch.from_numpy(self.data[key][:n].copy()) for key in FIELDS}
        state.update(
            episode=torch.from_numpy(self.episode[:n].copy()),
            holdout=torch.from_numpy(self.holdout[:n].copy()),
            episodes=self.episodes, current_holdout=self.current_holdout,
        )
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        n = int(state["episode"].shape[0])
        for key in FIELDS:
            self.data[key][:n] = state[key].numpy()
        self.episode[:n] = state["episode"].numpy()
        self.holdout[:n] = state["holdout"].numpy().astype(bool)
        self.size, self.episodes = n, int(state["episodes"])
        self.current_holdout = bool(state["current_holdout"])
        self.starts = self._valid_starts()
        train = ~self.holdout[:n]
        self.train_terminations = int(self.data["terminated"][:n][train].sum())
