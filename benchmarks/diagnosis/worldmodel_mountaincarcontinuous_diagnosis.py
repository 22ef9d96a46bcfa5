"""Why the default world-model config may never reach MountainCarContinuous-v0's flag: ad hoc.

Trains the default config (seed 0, or the one given) for 2,000 real steps and reports, per
500 training steps: the highest position the car reached (the flag is at 0.45; the +100 goal
reward is only seen there), the mean action size, and on those steps the planner's two
incentives side by side: the exploration bonus it was paid (weight x the reward scale x the
members' disagreement at the action taken) against the true action cost (0.1 a^2). Last, the
planner's evaluation episodes.

    python benchmarks/diagnosis/worldmodel_mountaincarcontinuous_diagnosis.py [SEED]  # ~6 min
"""

import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the scripts used below
from worldmodel_suite import default_agent, evaluation_seeds, planner_policy, play_episodes

TASK = "MountainCarContinuous-v0"
WINDOW = 500


def main() -> None:
    torch.set_num_threads(1)
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    agent = default_agent(TASK, seed)
    for end in range(WINDOW, 2000 + 1, WINDOW):
        agent.train(end - agent.real_steps)
        data = agent.store.tensors()
        obs, action = data["obs"][-WINDOW:], data["action"][-WINDOW:]
        bonus = (agent.planner.explore * agent.reward_scale
                 * agent.model.disagreement(obs, action)).numpy()
        cost = 0.1 * (action.reshape(len(action), -1) ** 2).sum(-1).numpy()
        goal = bool((data["reward"] > 50).any())
        print(f"steps {end - WINDOW}-{end}: highest position {float(obs[:, 0].max()):+.2f} "
              f"(flag 0.45; goal reward seen so far: {goal}), mean |a| "
              f"{float(action.abs().mean()):.2f}; per step: exploration bonus paid "
              f"{bonus.mean():.4f} (reward scale {agent.reward_scale:.4f}) vs action cost "
              f"{cost.mean():.4f}", flush=True)
    episodes = play_episodes(
        lambda: gym.make(TASK), planner_policy(agent), evaluation_seeds(seed, 3)
    )
    for episode in episodes:
        print(f"evaluation: return {episode['reward'].sum():.1f}, highest position "
              f"{episode['next_obs'][:, 0].max():+.2f}, mean |a| "
              f"{np.abs(episode['action']).mean():.3f}")


if __name__ == "__main__":
    main()
