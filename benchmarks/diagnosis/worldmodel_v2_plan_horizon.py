"""Diagnosis: does the v2 agent's planner help or hurt, against its own policy prior?

Trains the world-model agent v2 (`TDMPCAgent`, default config) through its public API for
`--steps` real steps on one task and seed (or loads a saved agent with `--agent`), then
evaluates the same weights acting five ways on the same 5 seeded episodes: the planner with
`plan_horizon` 1, 2 and 3 (3 is the default, the training horizon) and the policy prior alone
(`act=policy`). Nothing else changes between the rows, so a gap between them is the planner's
doing: a longer plan only helps when the learned dynamics carry the actions' effects better
than the Q-functions already do.

    python benchmarks/diagnosis/worldmodel_v2_plan_horizon.py --task CartPole-v1 --steps 2000
    python benchmarks/diagnosis/worldmodel_v2_plan_horizon.py --task Acrobot-v1 --agent DIR

Appends one JSON line per call to benchmarks/results/worldmodel_v2_plan_horizon.jsonl.
"""

import argparse
import json
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

import gmrl
from gmrl.rl.rollout import evaluate_agent
from gmrl.worldmodel.tdmpc import TDMPCAgent

OUT = Path(__file__).resolve().parents[1] / "results" / "worldmodel_v2_plan_horizon.jsonl"
VARIANTS: dict[str, dict[str, object]] = {
    "plan_h1": {"plan_horizon": 1}, "plan_h2": {"plan_horizon": 2},
    "plan_h3_default": {"plan_horizon": 3}, "policy_prior": {"act": "policy"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="CartPole-v1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--agent", help="a saved TDMPCAgent to evaluate instead of training")
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--eval-seed", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.time()
    if args.agent:
        agent = gmrl.load(args.agent)
        trained = f"loaded from {args.agent} ({agent.num_timesteps} real steps)"
    else:
        agent = TDMPCAgent(gym.make(args.task), seed=args.seed, device="cpu").learn(args.steps)
        trained = f"TDMPCAgent(default config, seed={args.seed}).learn({args.steps})"
    base = agent.config
    row: dict[str, object] = {"task": args.task, "seed": args.seed, "trained": trained,
                              "real_steps": agent.num_timesteps, "eval_seed": args.eval_seed}
    for name, change in VARIANTS.items():
        agent.config = base.model_copy(update=change)
        agent.planner.config = agent.config
        returns = evaluate_agent(agent, lambda: gym.make(args.task), episodes=args.episodes,
                                 seed=args.eval_seed)
        row[name] = {"mean": round(float(returns.mean()), 1),
                     "returns": np.round(returns, 1).tolist()}
        print(f"{name:16s} {returns.mean():8.1f}  {np.round(returns, 0)}", flush=True)
    row["seconds"] = round(time.time() - start)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("a") as handle:
        handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
