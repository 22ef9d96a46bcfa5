"""A learned world model seen as a `gmrl.rl.search_model.SearchModel`, so MCTS can plan with it.

The RL zoo's MCTS steps batches of numpy states with integer actions and knows nothing of
torch; this adapter converts both ways and picks how the ensemble is sampled (`"mean"` of the
members for a deterministic tree, or `"ts1"` for one sampled outcome per expansion).
"""

import inspect
import json
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field

from gmrl.core.config import NonNegativeFloat, Probability, StrictModel
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
        device = self.model.device
        obs = torch.as_tensor(np.asarray(states), dtype=torch.float32, device=device)
        act = torch.as_tensor(np.asarray(actions), dtype=torch.long, device=device)
        takes_sampling = "sampling" in inspect.signature(self.model.step).parameters
        kwargs = {"sampling": self.sampling} if takes_sampling else {}
        nxt, reward, terminated = self.model.step(obs, act, generator=self.generator, **kwargs)
        return (
            nxt.cpu().numpy().astype(np.float64),
            reward.cpu().numpy().astype(np.float64),
            terminated.cpu().numpy().astype(bool),
        )


class MCTSConfig(StrictModel):
    """MCTS over a learned model: the world-model planner's settings (see `gmrl.rl.mcts.MCTS`)."""

    n_simulations: int = Field(default=32, ge=1, description="simulations per real decision")
    max_depth: int = Field(default=15, ge=1, description="deepest imagined step of a path")
    rollouts_per_leaf: int = Field(
        default=2, ge=1, description="random rollouts scoring each new leaf"
    )
    leaf_batch: int = Field(default=8, ge=1, description="leaves expanded per batched model call")
    exploration: NonNegativeFloat = Field(default=1.0, description="UCT exploration constant")
    discount: Probability = Field(default=0.99, description="discount of imagined rewards")
    sampling: Literal["mean", "ts1"] = Field(
        default="mean", description="members' mean (deterministic tree) or one sample (ts1)"
    )


class MCTSPlanner:
    """MCTS over a learned model with `CEMPlanner`'s interface (`plan(obs_batch)`, `reset`).

    Each row of the batch gets its own search (the tree is rebuilt at every call, as
    `gmrl.rl.mcts` does), so it is slower than CEM per decision but plans over discrete
    actions with the usual UCT exploration.
    """

    def __init__(
        self, model: WorldModel, n_actions: int, config: MCTSConfig | None = None, seed: int = 0
    ) -> None:
        from gmrl.rl.mcts import MCTS

        c = self.config = config or MCTSConfig()
        self.adapter = WorldModelSearchAdapter(model, n_actions, sampling=c.sampling, seed=seed)
        self.search = MCTS(
            self.adapter, n_simulations=c.n_simulations, exploration=c.exploration,
            max_depth=c.max_depth, discount=c.discount, leaf_batch=c.leaf_batch,
            rollouts_per_leaf=c.rollouts_per_leaf, seed=seed,
        )

    def plan(
        self, obs: Any, generator: torch.Generator | None = None, *, explore: bool = False
    ) -> np.ndarray:
        """One action per state; `explore` is part of the planner interface (UCT explores)."""
        states = np.asarray(obs, dtype=np.float64).reshape(len(obs), -1)
        return np.array([self.search.search(state).action for state in states], dtype=np.int64)

    def reset(self, mask: Any = None) -> None:
        """Nothing to forget: every search starts from a fresh tree."""

    def state_dict(self) -> dict[str, Any]:
        """The two random streams (tree ties and rollouts; model sampling), for exact resume."""
        return {
            "search_rng": json.dumps(self.search.rng.bit_generator.state),
            "model_generator": self.adapter.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.search.rng.bit_generator.state = json.loads(state["search_rng"])
        self.adapter.generator.set_state(state["model_generator"])
