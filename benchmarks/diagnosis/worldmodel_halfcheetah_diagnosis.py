"""What limits the default world-model config on HalfCheetah-v5: an ad-hoc diagnosis.

Trains the default config (seed 0) for 5,000 real steps (where the 30k run stood at 860), then
plays 2 of the suite's evaluation episodes with planners over that one model that differ in
one setting (the default; 4 CEM iterations of 200 candidates; a 30-step horizon) and reports
each one's return split into HalfCheetah's forward and control terms, and on the default
planner's steps the learned reward's error and correlation with the true one.

    python benchmarks/diagnosis/worldmodel_halfcheetah_diagnosis.py  # about 25 minutes on one core
"""

import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the scripts used below
from worldmodel_suite import (
    evaluation_seeds,
    planner_policy,
    play_episodes,
    report_learned_reward,
    trained_agent,
)

TASK = "HalfCheetah-v5"


def main() -> None:
    agent = trained_agent(TASK, 5000)
    seeds = evaluation_seeds(0, 2)
    variants: dict[str, Any] = {
        "default": planner_policy(agent),
        "optimiser x8": planner_policy(agent, iterations=4, population=200, elites=20),
        "horizon 30": planner_policy(agent, horizon=30),
    }
    played = {}
    for name, factory in variants.items():
        episodes = played[name] = play_episodes(lambda: gym.make(TASK), factory, seeds)
        forward = np.mean([sum(i["reward_forward"] for i in e["infos"]) for e in episodes])
        ctrl = np.mean([sum(i["reward_ctrl"] for i in e["infos"]) for e in episodes])
        print(f"{name}: return {np.mean([e['reward'].sum() for e in episodes]):.1f} = forward "
              f"{forward:.1f} + control {ctrl:.1f}", flush=True)
    report_learned_reward(agent, played["default"], "the default planner's steps")

if __name__ == "__main__":
    main()
