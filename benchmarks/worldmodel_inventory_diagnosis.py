"""Why the default world-model config falls just short on the suite's inventory task: ad hoc.

Trains the default config (seed 0) for 1,000 real steps on `suite_envs:InventoryEnv`, then
plays the same 5 evaluation episodes with the planner and with the best base-stock policy
(order up to 60 units) and reports each one's return, orders placed, mean order size, lost
sales and end-of-day stock, plus the learned reward's error and correlation on the planner's
own transitions.

    python benchmarks/worldmodel_inventory_diagnosis.py       # about 3 minutes on one core
"""

import time
from typing import Any

import numpy as np
import torch

from suite_envs import CAPACITY, MAX_ORDER, InventoryEnv, base_stock_action
from worldmodel_suite import default_agent


def play(policy: Any, episodes: int = 5) -> tuple[dict[str, float], list[tuple]]:
    """Mean return and ordering statistics of `policy(obs) -> action` over seeded episodes."""
    env = InventoryEnv()
    returns, orders, sizes, stock, rows = [], 0, [], [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=10_000 + episode)
        total, done = 0.0, False
        while not done:
            action = np.asarray(policy(obs), dtype=np.float32).reshape(1)
            nxt, reward, term, trunc, _ = env.step(action)
            quantity = (float(np.clip(action[0], -1, 1)) + 1) / 2 * MAX_ORDER
            if quantity >= 1.0:
                orders += 1
                sizes.append(quantity)
            stock.append(float(nxt[0]) * CAPACITY)
            rows.append((obs, action, reward))
            total += float(reward)
            obs, done = nxt, term or trunc
        returns.append(total)
    return {
        "return": float(np.mean(returns)),
        "orders_per_episode": orders / episodes,
        "mean_order": float(np.mean(sizes)) if sizes else 0.0,
        "mean_stock": float(np.mean(stock)),
    }, rows


def main() -> None:
    torch.set_num_threads(1)
    agent = default_agent("suite_envs:InventoryEnv", 0, ("env.max_episode_steps=1000",))
    start = time.perf_counter()
    agent.train(1000)
    print(f"trained 1,000 real steps in {time.perf_counter() - start:.0f} s")
    planner, rows = play(lambda obs: np.asarray(agent.act(obs[None], explore=False))[0])
    heuristic, _ = play(lambda obs: base_stock_action(obs, 60.0))
    for name, stats in (("planner", planner), ("base-stock 60", heuristic)):
        print(f"{name}: " + ", ".join(f"{k} {v:.2f}" for k, v in stats.items()))
    obs_t = torch.tensor(np.array([r[0] for r in rows]), dtype=torch.float32)
    act_t = torch.tensor(np.array([r[1] for r in rows]), dtype=torch.float32)
    reward = np.array([r[2] for r in rows])
    with torch.no_grad():
        _, predicted, _ = agent.model.predict_members(obs_t, act_t, sample=False)
    predicted = predicted.mean(0).numpy().reshape(-1)
    error = np.abs(predicted - reward).mean()
    print(f"learned reward on the planner's transitions: MAE {error:.4f}"
          f" (true mean {reward.mean():.4f}, std {reward.std():.4f}), correlation "
          f"{np.corrcoef(predicted, reward)[0, 1]:.3f}")


if __name__ == "__main__":
    main()
