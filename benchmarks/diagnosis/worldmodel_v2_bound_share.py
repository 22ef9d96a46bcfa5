"""Diagnosis: how often, and by how much, does the return bound raise v2's TD targets?

Trains the world-model agent v2 (`TDMPCAgent`, default config plus `return_bound` and
`return_bound_kind`) through its public API in chunks of `--every` real steps and, for the
updates of each chunk, averages what the bound did to the sampled targets: the share of real
sampled steps whose target it raised (`share`, the agent's own `bound_share`), the mean amount
by which it raised them (`gap_mean`, over the raised ones), the batch's largest raise
(`gap_max`) and the mean size of the unbounded targets (`target_abs`), beside the running spread
of Q (`q_scale`). A bound that raises most targets by a large amount says the short targets
undervalue what the agent has collected (a rare large reward not yet carried back, or
pessimism); one that seldom acts changes little.

    python benchmarks/diagnosis/worldmodel_v2_bound_share.py --task Pendulum-v1 --seed 0
    python benchmarks/diagnosis/worldmodel_v2_bound_share.py \
        --task MountainCarContinuous-v0 --seed 1 --kind exact

Appends one JSON line per call to benchmarks/results/worldmodel_v2_bound_share.jsonl.
"""

import argparse
import json
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from gmrl.bench.machine import machine
from gmrl.worldmodel.tdmpc import TDMPCAgent

OUT = Path(__file__).resolve().parents[1] / "results" / "worldmodel_v2_bound_share.jsonl"


def probe(task: str, seed: int, steps: int, every: int, bound: int, kind: str
          ) -> list[dict[str, float]]:
    """Learn `steps` real steps; per chunk of `every`, what the bound did to the targets."""
    agent = TDMPCAgent(gym.make(task), {"return_bound": bound, "return_bound_kind": kind},
                       seed=seed)
    seen: list[tuple[float, float, float, float]] = []
    bounded_target = agent._bounded_target

    def recording(td_target: torch.Tensor, batch: dict[str, torch.Tensor],
                  mask: torch.Tensor) -> tuple[torch.Tensor, float]:
        out, share = bounded_target(td_target, batch, mask)
        real = mask > 0
        gap = (out - td_target)[real]
        raised = gap[gap > 0]
        seen.append((share, float(raised.mean()) if raised.numel() else 0.0,
                     float(gap.max()), float(td_target[real].abs().mean())))
        return out, share

    agent._bounded_target = recording
    rows = []
    for _ in range(steps // every):
        start = len(seen)
        agent.learn(every)
        chunk = np.array(seen[start:]) if len(seen) > start else np.zeros((1, 4))
        rows.append({"steps": agent.num_timesteps, "share": float(chunk[:, 0].mean()),
                     "gap_mean": float(chunk[:, 1].mean()), "gap_max": float(chunk[:, 2].mean()),
                     "target_abs": float(chunk[:, 3].mean()), "q_scale": agent.q_scale})
        print("{steps:>6} share {share:.3f} gap_mean {gap_mean:.2f} gap_max {gap_max:.1f} "
              "|target| {target_abs:.1f} q_scale {q_scale:.1f}".format(**rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="Pendulum-v1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--every", type=int, default=250)
    parser.add_argument("--bound", type=int, default=50, help="return_bound (real steps)")
    parser.add_argument("--kind", default="bootstrapped", choices=("bootstrapped", "exact"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.time()
    rows = probe(args.task, args.seed, args.steps, args.every, args.bound, args.kind)
    record: dict[str, Any] = {
        "task": args.task, "seed": args.seed, "return_bound": args.bound, "kind": args.kind,
        "rows": rows, "seconds": round(time.time() - started, 1), "machine": machine(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    with OUT.open("a") as handle:
        handle.write(json.dumps(record) + "\n")
    print(f"appended to {OUT}")


if __name__ == "__main__":
    main()
