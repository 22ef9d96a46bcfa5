"""Why the default world-model config misses InvertedPendulum-v5's threshold: an ad-hoc diagnosis.

Trains the default config (seed 0) for 1,000 real steps, then plays the suite's first 3
evaluation episodes with planners over that one model that differ in one setting (the default;
4 CEM iterations of 200 candidates; a 30-step horizon; no terminal value) and reports for each:
the return, where the cart ends (the rail stops it at |x| = 1), and on the default planner's
steps, the learned termination's calls against the real ends, the model's one-step error near
the rail end against the centre, and what the terminal value `V` makes of the rail end: V of
each visited state with its cart position moved to the centre (x = 0) and to the rail end
(x = +-0.95, the side the cart is on), all else equal.

    python benchmarks/diagnosis/worldmodel_invertedpendulum_diagnosis.py  # ~5 min, one core
"""

import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the scripts used below
from worldmodel_suite import evaluation_seeds, planner_policy, play_episodes, trained_agent

EPISODES = 3
RAIL = 0.95


def main() -> None:
    agent = trained_agent("InvertedPendulum-v5", 1000)
    seeds = evaluation_seeds(0, EPISODES)
    variants: dict[str, Any] = {
        "default": planner_policy(agent),
        "optimiser x8": planner_policy(agent, iterations=4, population=200, elites=20),
        "horizon 30": planner_policy(agent, horizon=30),
        "no terminal value": planner_policy(agent, terminal_value=False),
    }
    played = {}
    for name, factory in variants.items():
        episodes = played[name] = play_episodes(
            lambda: gym.make("InvertedPendulum-v5"), factory, seeds
        )
        ends = [f"{len(e['reward'])} steps, x {e['next_obs'][-1, 0]:+.2f}" for e in episodes]
        print(f"{name}: return {np.mean([e['reward'].sum() for e in episodes]):.1f}; "
              f"episodes end: {'; '.join(ends)}", flush=True)
    episodes = played["default"]
    obs = np.concatenate([e["obs"] for e in episodes])
    obs_t = torch.tensor(obs, dtype=torch.float32)
    act_t = torch.tensor(np.concatenate([e["action"] for e in episodes]), dtype=torch.float32)
    nxt = np.concatenate([e["next_obs"] for e in episodes])
    term = np.concatenate([e["terminated"] for e in episodes])
    with torch.no_grad():
        pred_next, _, done_p = agent.model.predict_members(
            obs_t, act_t, sample=False, done_probability=True
        )
    done_p = done_p.float().mean(0).numpy().reshape(-1)
    print(f"learned termination: called {int((done_p >= 0.5).sum())} steps against "
          f"{int(term.sum())} real ends (p on the real ends {done_p[term].mean():.2f}, "
          f"elsewhere {done_p[~term].mean():.3f})")
    error = np.abs(pred_next.mean(0).numpy() - nxt)
    near = np.abs(obs[:, 0]) > 0.9
    centre = np.abs(obs[:, 0]) < 0.5
    for label, rows in (("|x| > 0.9", near), ("|x| < 0.5", centre)):
        if rows.any():
            print(f"one-step error (x, angle, x', angle') at {label} ({int(rows.sum())} steps): "
                  f"{np.round(error[rows].mean(0), 4).tolist()}")
    moved_centre, moved_rail = obs.copy(), obs.copy()
    moved_centre[:, 0] = 0.0
    moved_rail[:, 0] = np.where(obs[:, 0] >= 0, RAIL, -RAIL)
    with torch.no_grad():
        v_here = agent.value(obs_t).numpy()
        v_centre = agent.value(torch.tensor(moved_centre, dtype=torch.float32)).numpy()
        v_rail = agent.value(torch.tensor(moved_rail, dtype=torch.float32)).numpy()
    print(f"V of the visited states {v_here.mean():.1f}; moved to the centre {v_centre.mean():.1f},"
          f" to the rail end {v_rail.mean():.1f} (rail end rated higher on "
          f"{(v_rail > v_centre).mean():.0%} of states)")
    lengths = [len(e["reward"]) for e in episodes]
    togo = np.concatenate([np.arange(n, 0, -1) for n in lengths])
    print(f"realised steps to the end from the visited states: mean {togo.mean():.1f}; "
          f"V's correlation with it {np.corrcoef(v_here, togo)[0, 1]:.2f}")


if __name__ == "__main__":
    main()
