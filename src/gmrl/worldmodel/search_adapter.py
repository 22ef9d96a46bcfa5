"""A learned world model seen as a `gmrl.rl.search_model.SearchModel`, so MCTS can plan with it.

The RL zoo's MCTS steps batches of numpy states with integer actions and knows nothing of
torch; this adapter converts both ways and picks how the ensemble is sampled (`"mean"` of the
members for a deterministic tree, or `"ts1"` for one sampled outcome per expansion).
"""

from typing import Any, Literal

import numpy as np
import torch

from gmrl.worldmodel.base import WorldModel


class WorldModelSearchAdapter:
    """`n_actions` + `step(states, actions) -> (next_states, rewards, terminated)` in numpy."""

    def __init__(
        self,
        model: WorldModel,
        n_actions: int,
        *,
        sampling: Literal["mean", "ts1"] = "mean",
        seed: int = 0,
    ) -> None:
        self.model, self.n_actions, self.sampling = model, int(n_actions), sampling
        self.generator = torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def step(
        self, states: np.ndarray, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        device = getattr(self.model, "device", torch.device("cpu"))
        obs = torch.as_tensor(np.asarray(states), dtype=torch.float32, device=device)
        act = torch.as_tensor(np.asarray(actions), dtype=torch.long, device=device)
        kwargs = {"sampling": self.sampling} if hasattr(self.model, "ensemble_size") else {}
        nxt, reward, terminated = self.model.step(obs, act, generator=self.generator, **kwargs)
        return (
            nxt.cpu().numpy().astype(np.float64),
            reward.cpu().numpy().astype(np.float64),
            terminated.cpu().numpy().astype(bool),
        )


class MCTSPlanner:
    """MCTS over a learned model with `CEMPlanner`'s interface (`plan(obs_batch)`, `reset`).

    Each row of the batch gets its own search (the tree is rebuilt at every call, as
    `gmrl.rl.mcts` does), so it is slower than CEM per decision but plans over discrete
    actions with the usual UCT exploration. `mcts_kwargs` go to `gmrl.rl.mcts.MCTS`.
    """

    def __init__(
        self, model: WorldModel, n_actions: int, seed: int = 0, **mcts_kwargs: Any
    ) -> None:
        from gmrl.rl.mcts import MCTS

        self.adapter = WorldModelSearchAdapter(model, n_actions, seed=seed)
        self.search = MCTS(self.adapter, seed=seed, **mcts_kwargs)

    def plan(self, obs: Any, generator: torch.Generator | None = None) -> np.ndarray:
        states = np.asarray(obs, dtype=np.float64).reshape(len(obs), -1)
        return np.array([self.search.search(state).action for state in states], dtype=np.int64)

    def reset(self, mask: Any = None) -> None:
        """Nothing to forget: every search starts from a fresh tree."""
