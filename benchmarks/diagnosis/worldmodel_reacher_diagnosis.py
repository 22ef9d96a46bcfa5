"""Why the default world-model config misses Reacher-v5's threshold: an ad-hoc diagnosis.

Trains the default config (seed 0) for 1,000 real steps, then plays 3 evaluation episodes with
the planner and reports, on those on-policy transitions: how close the fingertip gets to the
target and where it ends, the true reward split into its distance and action-cost terms, the
learned reward's error and correlation with the true one, the one-step next-state error per
observation dimension, and whether the learned reward resolves the action cost (its spread
across a 5x5 action grid at fixed states vs the true cost's spread, 2.0).

    python benchmarks/diagnosis/worldmodel_reacher_diagnosis.py  # about 2 minutes on one core
"""


import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the scripts used below
from worldmodel_suite import trained_agent


def main() -> None:
    agent = trained_agent("Reacher-v5", 1000)
    env = gym.make("Reacher-v5")
    rows = []
    for episode in range(3):
        obs, _ = env.reset(seed=500 + episode)
        distances, done = [], False
        while not done:
            action = np.asarray(agent.act(obs[None], explore=False))[0]
            nxt, reward, term, trunc, info = env.step(action)
            rows.append((obs, action, reward, nxt, info["reward_dist"], info["reward_ctrl"]))
            distances.append(-info["reward_dist"])
            obs, done = nxt, term or trunc
        print(f"episode {episode}: distance to target: start {distances[0]:.3f}, "
              f"closest {min(distances):.3f}, end {distances[-1]:.3f}")
    obs_t = torch.tensor(np.array([r[0] for r in rows]), dtype=torch.float32)
    act_t = torch.tensor(np.array([r[1] for r in rows]), dtype=torch.float32)
    reward = np.array([r[2] for r in rows])
    next_obs = np.array([r[3] for r in rows])
    with torch.no_grad():
        pred_next, pred_reward, _ = agent.model.predict_members(obs_t, act_t, sample=False)
    pred_reward = pred_reward.mean(0).numpy().reshape(-1)
    print(f"true reward per step {reward.mean():.3f} = distance "
          f"{np.mean([r[4] for r in rows]):.3f} + action cost {np.mean([r[5] for r in rows]):.3f}; "
          f"learned {pred_reward.mean():.3f}")
    print(f"learned reward: MAE {np.abs(pred_reward - reward).mean():.3f}, "
          f"correlation {np.corrcoef(pred_reward, reward)[0, 1]:.3f}")
    error = np.abs(pred_next.mean(0).numpy() - next_obs).mean(0)
    print("next-state MAE per dimension", np.round(error, 3))
    print("next-state std per dimension", np.round(next_obs.std(0), 3))
    grid = torch.linspace(-1, 1, 5)
    actions = torch.cartesian_prod(grid, grid)
    states = obs_t[:50].repeat_interleave(len(actions), 0)
    with torch.no_grad():
        _, grid_reward, _ = agent.model.predict_members(
            states, actions.repeat(50, 1), sample=False
        )
    spread = grid_reward.mean(0).reshape(50, len(actions))
    print(f"learned reward's spread over the action grid: "
          f"{float((spread.max(1).values - spread.min(1).values).mean()):.2f} (true: 2.00)")


if __name__ == "__main__":
    main()
