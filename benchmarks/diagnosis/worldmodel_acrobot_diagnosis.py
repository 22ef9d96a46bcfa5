"""Why the default world-model config's Acrobot returns swing between refits: an ad-hoc diagnosis.

Trains the default config (seed 0, the suite's seed whose return reached -108.6 at 500 steps and
then fell back) and at 500, 1,000, 1,500 and 2,000 real steps plays the suite's first 3
evaluation episodes with the planner, reporting on those on-policy transitions:

- the return and whether each episode reached the goal (Acrobot ends on success);
- the learned termination: mean probability on the true success steps and on all other steps,
  and how many steps it calls (probability >= 0.5) against the real successes;
- the terminal value `V` against the realised discounted return-to-go (gamma 0.99) along the
  trajectories: mean of both, and their correlation (does V rank states right? is it biased?).

At the last checkpoint the same model is also played with planners that differ in one setting
(4 CEM iterations of 200 candidates; horizon 30; no terminal value): which part limits it.

    python benchmarks/diagnosis/worldmodel_acrobot_diagnosis.py  # about 15-25 minutes on one core
"""

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the scripts used below
from worldmodel_suite import default_agent, evaluation_seeds, planner_policy, play_episodes

EPISODES = 3
CHECKPOINTS = (500, 1000, 1500, 2000)
GAMMA = 0.99


def play(agent: Any, policy_factory: Callable[[], Callable[[np.ndarray], Any]]) -> dict:
    """Return, successes and the learned termination / terminal value on the played steps."""
    episodes = play_episodes(
        lambda: gym.make("Acrobot-v1"), policy_factory,
        evaluation_seeds(0, EPISODES),
    )
    togo = []
    for episode in episodes:  # discounted return-to-go of each visited state
        running, episode_togo = 0.0, []
        for reward in episode["reward"][::-1]:
            running = reward + GAMMA * running
            episode_togo.append(running)
        togo.extend(reversed(episode_togo))
    obs_t = torch.tensor(np.concatenate([e["obs"] for e in episodes]), dtype=torch.float32)
    act_t = torch.tensor(np.concatenate([e["action"] for e in episodes]))
    with torch.no_grad():
        _, _, done_p = agent.model.predict_members(
            obs_t, act_t, sample=False, done_probability=True
        )
        value = agent.value(obs_t).numpy()
    done_p = done_p.float().mean(0).numpy().reshape(-1)
    term = np.concatenate([e["terminated"] for e in episodes])
    togo_a = np.array(togo)
    return {
        "return": float(np.mean([e["reward"].sum() for e in episodes])),
        "successes": int(term.sum()),
        "p_done_on_success": float(done_p[term].mean()) if term.any() else float("nan"),
        "p_done_elsewhere": float(done_p[~term].mean()),
        "called": int((done_p >= 0.5).sum()), "real": int(term.sum()),
        "value_mean": float(value.mean()), "togo_mean": float(togo_a.mean()),
        "value_corr": float(np.corrcoef(value, togo_a)[0, 1]),
    }


def report(name: str, stats: dict) -> None:
    print(f"{name}: return {stats['return']:.1f} ({stats['successes']}/{EPISODES} reach the goal);"
          f" termination p on successes {stats['p_done_on_success']:.2f}, elsewhere "
          f"{stats['p_done_elsewhere']:.3f}, called {stats['called']} vs real {stats['real']};"
          f" V mean {stats['value_mean']:.1f} vs return-to-go {stats['togo_mean']:.1f}, "
          f"corr {stats['value_corr']:.2f}", flush=True)


def main() -> None:
    torch.set_num_threads(1)
    agent = default_agent("Acrobot-v1", 0)
    for point in CHECKPOINTS:
        start = time.perf_counter()
        agent.train(point - agent.real_steps)
        print(f"{point} real steps (+{time.perf_counter() - start:.0f} s of training)")
        report("  default", play(agent, planner_policy(agent)))
    variants: dict[str, Any] = {
        "optimiser x8": planner_policy(agent, iterations=4, population=200, elites=20),
        "horizon 30": planner_policy(agent, horizon=30),
        "no terminal value": planner_policy(agent, terminal_value=False),
    }
    for name, factory in variants.items():
        report(f"  {name}", play(agent, factory))


if __name__ == "__main__":
    main()
