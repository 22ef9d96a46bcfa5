"""Per-real-step cost of the world-model agent v2, three ways, beside the SB3 peer's.

Trains `TDMPCAgent` (default config) through its public API for `--steps` real steps on one task
and seed, then copies that exact state (`state_dict` / `load_state_dict`, what `--resume` uses)
into three agents that differ in one setting and times `--measure` more real steps of each:

- `default`: the shipped config (MPPI stops once the policy prior's proposal is as good,
  `prior_stop: 0.05`);
- `full_search`: every MPPI iteration runs (`prior_stop: null`);
- `compile`: the default with `compile: true` (`torch.compile` of the losses and the planner's
  scoring; the compile time is timed apart, over a few warm-up steps).

Acting (planning) and updating are timed by the agent itself (`timings`); the SB3 peer (PPO for
Discrete actions, SAC otherwise, SB3's defaults) is timed over the same number of steps after
its own warm-up, as whole training steps. One torch thread, so the figures are per core.

    python benchmarks/diagnosis/worldmodel_v2_step_cost.py --task Pendulum-v1
    python benchmarks/diagnosis/worldmodel_v2_step_cost.py --task CartPole-v1 --steps 1500

Appends one JSON line per call to benchmarks/results/worldmodel_v2_step_cost.jsonl.
"""

import argparse
import json
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch

from gmrl.bench.machine import machine
from gmrl.bench.peers import sb3_default
from gmrl.worldmodel.tdmpc import TDMPCAgent

OUT = Path(__file__).resolve().parents[1] / "results" / "worldmodel_v2_step_cost.jsonl"
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {}, "full_search": {"prior_stop": None}, "compile": {"compile": True},
}
WARMUP_STEPS = 5


def _zeroed(agent: TDMPCAgent) -> None:
    agent.timings = dict.fromkeys(agent.timings, 0)


def time_variant(task: str, seed: int, state: dict[str, Any], change: dict[str, Any],
                 measure: int) -> dict[str, float]:
    """ms per real step (act, update) of `measure` steps from `state`, one setting changed."""
    agent = TDMPCAgent(gym.make(task), change, seed=seed, device="cpu")
    agent.load_state_dict(state)
    start = time.perf_counter()
    agent.learn(WARMUP_STEPS)  # compiles here when asked to
    warmup = time.perf_counter() - start
    _zeroed(agent)
    agent.learn(measure)
    timings = agent.timings
    acted, updated = max(1, timings["act_steps"]), max(1, timings["update_steps"])
    return {
        "act_ms": 1000 * timings["act_s"] / acted,
        "update_ms": 1000 * timings["update_s"] / updated,
        "total_ms": 1000 * timings["act_s"] / acted + 1000 * timings["update_s"] / updated,
        "plan_iterations": timings["plan_iterations"] / acted,
        "warmup_s": warmup,
    }


def time_peer(task: str, seed: int, warmup: int, measure: int) -> dict[str, Any]:
    """The SB3 peer's whole training cost per real step, after `warmup` steps of its own."""
    peer = sb3_default(gym.make(task), seed=seed)
    peer.learn(warmup)
    before, start = peer.num_timesteps, time.perf_counter()
    peer.learn(measure)  # PPO finishes its rollout (2,048 steps): divide by the steps taken
    steps = peer.num_timesteps - before
    return {"algo": peer.algo, "steps": steps,
            "ms_per_step": 1000 * (time.perf_counter() - start) / max(1, steps)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="Pendulum-v1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=1000, help="real steps trained first")
    parser.add_argument("--measure", type=int, default=200, help="real steps timed per variant")
    parser.add_argument("--out", type=Path, default=OUT, help="JSON-lines file appended to")
    args = parser.parse_args()
    torch.set_num_threads(1)
    trained = TDMPCAgent(gym.make(args.task), seed=args.seed, device="cpu").learn(args.steps)
    state = trained.state_dict()
    row: dict[str, Any] = {"task": args.task, "seed": args.seed, "trained_steps": args.steps,
                           "measured_steps": args.measure}
    for name, change in VARIANTS.items():
        row[name] = time_variant(args.task, args.seed, state, change, args.measure)
        print(name, {k: round(v, 2) for k, v in row[name].items()}, flush=True)
    row["sb3_peer"] = time_peer(args.task, args.seed, args.steps, args.measure)
    print("sb3_peer", row["sb3_peer"], flush=True)
    row["machine"] = machine()
    row["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with args.out.open("a") as handle:
        handle.write(json.dumps(row) + "\n")
    print(f"appended to {args.out}")


if __name__ == "__main__":
    main()
