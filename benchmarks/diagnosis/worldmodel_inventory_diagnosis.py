"""Why the default world-model config falls just short on the suite's inventory task: ad hoc.

Trains the default config (seed 0) for 1,000 real steps on `suite_envs:InventoryEnv`, then
plays the same 5 evaluation episodes with the best base-stock policy (order up to 60 units) and
with planners over the *same* learned model that differ in one setting each, to tell the
causes apart:

- `default`: the default config's planner;
- `optimiser x8`: 4 CEM iterations of 200 candidates (is the search the limit?);
- `particles 8`: 8 sampled futures per candidate instead of 1 (is planning against one random
  demand draw the limit? a stock-out risk shows only across draws);
- `horizon 30`: 30 planned days instead of 15 (is the planning window the limit?).

For each: return, lost sales and end-of-day stock per episode, and the mean order and lost sales
per weekday (the demand follows a weekly cycle: timing shows there). Last, the learned reward's
error and correlation on the default planner's own transitions.

    python benchmarks/diagnosis/worldmodel_inventory_diagnosis.py  # about 15 minutes on one core
"""

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the scripts used below
from suite_envs import CAPACITY, MAX_ORDER, InventoryEnv, base_stock_action
from worldmodel_suite import planner_policy, play_episodes, report_learned_reward, trained_agent

EPISODES = 5
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "optimiser x8": {"iterations": 4, "population": 200, "elites": 20},
    "particles 8": {"particles": 8},
    "horizon 30": {"horizon": 30},
}


def play(policy_factory: Callable[[], Callable[[np.ndarray], Any]]) -> dict[str, Any]:
    """Statistics of a policy over the seeded evaluation episodes (a fresh policy per episode)."""
    episodes = play_episodes(
        InventoryEnv, policy_factory, [10_000 + i for i in range(EPISODES)]
    )
    order: list[list[float]] = [[] for _ in range(7)]
    lost: list[list[float]] = [[] for _ in range(7)]
    for episode in episodes:
        actions = np.clip(episode["action"].reshape(-1), -1, 1)
        for day, (action, info) in enumerate(zip(actions, episode["infos"], strict=True)):
            order[day % 7].append(round((float(action) + 1) / 2 * MAX_ORDER))
            lost[day % 7].append(info["demand"] - info["sold"])
    stock = np.concatenate([e["next_obs"][:, 0] for e in episodes]) * CAPACITY
    return {
        "return": float(np.mean([e["reward"].sum() for e in episodes])),
        "lost_per_episode": float(sum(map(sum, lost)) / len(episodes)),
        "stock": float(stock.mean()),
        "order_by_weekday": [float(np.mean(v)) for v in order],
        "lost_by_weekday": [float(np.mean(v)) for v in lost],
        "episodes": episodes,
    }


def main() -> None:
    agent = trained_agent("suite_envs:InventoryEnv", 1000, ("env.max_episode_steps=1000",))
    results = {"base-stock 60": play(lambda: lambda obs: base_stock_action(obs, 60.0))}
    for name, changes in VARIANTS.items():
        start = time.perf_counter()
        results[name] = play(planner_policy(agent, **changes))
        print(f"  {name}: {time.perf_counter() - start:.0f} s", flush=True)
    print("weekday demand rate:", [round(InventoryEnv().demand_rate(d), 1) for d in range(7)])
    for name, stats in results.items():
        print(f"{name}: return {stats['return']:.2f}, lost sales/episode "
              f"{stats['lost_per_episode']:.1f}, stock {stats['stock']:.1f}\n"
              f"    order by weekday {np.round(stats['order_by_weekday'], 1).tolist()}\n"
              f"    lost by weekday  {np.round(stats['lost_by_weekday'], 2).tolist()}")
    report_learned_reward(agent, results["default"]["episodes"], "the planner's transitions")

if __name__ == "__main__":
    main()
