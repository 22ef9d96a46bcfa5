"""gmrl's REINFORCE and actor-critic vs Stable-Baselines3 PPO and A2C: env steps to solve CartPole.

For each seed, side by side in this one process, each agent trains on CartPole-v1 and is
evaluated every 5,000 env steps (10 deterministic episodes, seeds 10_000 + 100*seed + i). A run
stops at the first evaluation whose mean return reaches 475, or at --max-steps. Hyper-parameters
are those of configs/rl/cartpole_reinforce.yaml, cartpole_actor_critic.yaml (n_steps=32 variant
without annealing, the one the tests use) and cartpole.yaml (SB3 PPO, rl-zoo values); SB3 A2C
uses its defaults. Reports the median and range over seeds of env steps and of CPU seconds
(time.process_time, training only) in benchmarks/results/rl_policy_gradient.json.

    gmrl bench rl_policy_gradient --seeds 5
    python benchmarks/rl_policy_gradient.py --seeds 2 --agents reinforce ppo
    python benchmarks/rl_policy_gradient.py --quick --out benchmarks/results/quick/rl.json
"""

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

RESULTS = Path(__file__).resolve().parent / "results" / "rl_policy_gradient.json"
EVAL_EVERY, EVAL_EPISODES, THRESHOLD = 5_000, 10, 475.0
QUICK_MAX_STEPS = 30_000
GMRL = {
    "reinforce": {"num_envs": 8, "policy_lr": 0.005, "value_lr": 0.005},
    "actor_critic": {"num_envs": 8, "n_steps": 32, "policy_lr": 0.003, "value_lr": 0.003},
}
SB3 = {
    "ppo": {"n_envs": 8, "n_steps": 32, "batch_size": 256, "n_epochs": 20, "gae_lambda": 0.8,
            "gamma": 0.98, "ent_coef": 0.0, "learning_rate": "lin_0.001", "clip_range": 0.2},
    "a2c": {},
}


def _eval_seed(seed: int) -> int:
    return 10_000 + 100 * seed


def run_gmrl(algo: str, seed: int, max_steps: int) -> dict[str, Any]:
    from gmrl.rl.policy_gradient import ActorCritic, Reinforce

    cls = {"reinforce": Reinforce, "actor_critic": ActorCritic}[algo]
    agent = cls("CartPole-v1", GMRL[algo], seed=seed, device="cpu")
    cpu, curve = 0.0, []
    while agent.num_steps < max_steps:
        start = time.process_time()
        agent.learn(agent.num_steps + EVAL_EVERY)
        cpu += time.process_time() - start
        mean = float(agent.evaluate(EVAL_EPISODES, seed=_eval_seed(seed)).mean())
        curve.append([agent.num_steps, mean])
        if mean >= THRESHOLD:
            break
    return {"steps": agent.num_steps, "cpu_s": cpu, "solved": curve[-1][1] >= THRESHOLD,
            "curve": curve}


def run_sb3(algo: str, seed: int, max_steps: int) -> dict[str, Any]:
    """One `learn(max_steps)` call (so learning-rate schedules span the whole budget), stopped by
    a callback at the first evaluation that reaches the threshold; evaluation CPU is excluded."""
    from stable_baselines3.common.callbacks import BaseCallback

    from gmrl.rl.envs import evaluate_policy
    from gmrl.rl.sb3 import make_sb3_agent

    model = make_sb3_agent(algo, "CartPole-v1", SB3[algo], seed=seed, device="cpu")
    curve: list[list[float]] = []
    eval_cpu = [0.0]

    class _Evaluate(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps < EVAL_EVERY * (len(curve) + 1):
                return True
            start = time.process_time()
            mean = float(evaluate_policy(lambda obs: model.predict(obs, deterministic=True)[0],
                                         "CartPole-v1", episodes=EVAL_EPISODES,
                                         seed=_eval_seed(seed)).mean())
            eval_cpu[0] += time.process_time() - start
            curve.append([self.num_timesteps, mean])
            return mean < THRESHOLD

    start = time.process_time()
    model.learn(max_steps, callback=_Evaluate())
    cpu = time.process_time() - start - eval_cpu[0]
    solved = bool(curve) and curve[-1][1] >= THRESHOLD
    return {"steps": model.num_timesteps, "cpu_s": cpu, "solved": solved, "curve": curve}


def _stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--max-steps", type=int, default=100_000)
    parser.add_argument("--agents", nargs="+", default=[*GMRL, *SB3])
    parser.add_argument("--quick", action="store_true",
                        help=f"1 seed, at most {QUICK_MAX_STEPS:,} steps (gmrl bench all --quick)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.max_steps = 1, min(args.max_steps, QUICK_MAX_STEPS)
    torch.set_num_threads(1)
    results: dict[str, Any] = {}
    for seed in range(args.seeds):
        for agent in args.agents:
            runner = run_gmrl if agent in GMRL else run_sb3
            outcome = runner(agent, seed, args.max_steps)
            results.setdefault(agent, []).append(outcome)
            print(f"seed {seed} {agent:>12}: {outcome['steps']:>6} steps, "
                  f"{outcome['cpu_s']:.1f} cpu-s, solved={outcome['solved']}", flush=True)
    summary = {
        agent: {"solved": f"{sum(r['solved'] for r in runs)}/{len(runs)}",
                "steps": _stats([r["steps"] for r in runs]),
                "cpu_s": _stats([round(r["cpu_s"], 2) for r in runs])}
        for agent, runs in results.items()
    }
    payload = {
        "task": "CartPole-v1, env steps until a 10-episode evaluation reaches 475",
        "command": "python benchmarks/rl_policy_gradient.py " + " ".join(
            [f"--seeds {args.seeds}", f"--max-steps {args.max_steps}"]),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch thread, "
                   f"{platform.python_version()}",
        "summary": summary,
        "runs": {agent: [{k: v for k, v in r.items()} for r in runs]
                 for agent, runs in results.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1, default=float) + "\n")
    print(json.dumps(summary, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
