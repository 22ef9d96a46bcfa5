"""Custom environments of the world-model suite, written through Gymnasium's public API only.

They stand for a user's own task: gmrl knows nothing about them beyond `"module:Class"`
(`gmrl run configs/worldmodel/default.yaml env.id=suite_envs:InventoryEnv` with this folder on
`PYTHONPATH`), so reward and termination must be learned.

`InventoryEnv` is a decision-support task: each day a shop orders stock (a continuous order
size) that arrives the next morning, then sells to Poisson demand whose rate follows a weekly
cycle. Profit = sales revenue - purchase cost - a fixed cost per order - holding cost - a
penalty per lost sale. The reward depends on the action directly (purchase and order costs) and
through the future (stock-outs), the case the issue reports the planner once failed at.
"""

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

PRICE, UNIT_COST, ORDER_COST, HOLDING_COST, LOST_SALE_COST = 4.0, 2.0, 10.0, 0.1, 2.0
MAX_ORDER, CAPACITY, DAYS = 60.0, 150.0, 60
REWARD_SCALE = 0.02  # rewards in units of 50 currency units


class InventoryEnv(gym.Env):
    """Order stock each day against weekly-cycling Poisson demand (60-day episodes).

    Observation: stock on hand / capacity, the order in transit / max order, and the day of
    the week as (sin, cos). Action: order size in [-1, 1], mapped to [0, MAX_ORDER] units.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self) -> None:
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.stock = self.in_transit = 0.0
        self.day = 0

    def _obs(self) -> np.ndarray:
        phase = 2 * np.pi * (self.day % 7) / 7
        return np.array(
            [self.stock / CAPACITY, self.in_transit / MAX_ORDER, np.sin(phase), np.cos(phase)],
            dtype=np.float32,
        )

    def demand_rate(self, day: int) -> float:
        """Mean demand on `day`: 20 a day on average, 12 to 28 over the week."""
        return 20.0 + 8.0 * np.sin(2 * np.pi * (day % 7) / 7)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.stock = float(self.np_random.integers(0, 40))
        self.in_transit, self.day = 0.0, 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        order = float(np.clip(np.asarray(action, dtype=np.float64).reshape(-1)[0], -1, 1))
        quantity = round((order + 1.0) / 2.0 * MAX_ORDER)
        self.stock = min(CAPACITY, self.stock + self.in_transit)
        demand = float(self.np_random.poisson(self.demand_rate(self.day)))
        sold = min(self.stock, demand)
        self.stock -= sold
        profit = (
            PRICE * sold
            - UNIT_COST * quantity
            - ORDER_COST * (quantity > 0)
            - HOLDING_COST * self.stock
            - LOST_SALE_COST * (demand - sold)
        )
        self.in_transit = float(quantity)
        self.day += 1
        info = {"sold": sold, "demand": demand}
        return self._obs(), REWARD_SCALE * profit, False, self.day >= DAYS, info


def base_stock_action(obs: np.ndarray, level: float) -> np.ndarray:
    """The classic heuristic: order up to `level` units (stock + in transit), as an action."""
    position = obs[0] * CAPACITY + obs[1] * MAX_ORDER
    quantity = float(np.clip(level - position, 0.0, MAX_ORDER))
    return np.array([2.0 * quantity / MAX_ORDER - 1.0], dtype=np.float32)
