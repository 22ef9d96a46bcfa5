"""World-model agent vs model-free SB3: real env steps and seconds to a return threshold.

For each env and seed, side by side in this one process:
- gmrl's world-model agent (configs/worldmodel/<env>.yaml, unchanged),
- SB3 with default hyper-parameters: PPO on CartPole-v1, SAC on Pendulum-v1.
Both are evaluated every `eval_every` real env steps (CartPole 500, Pendulum 250) with the same
10 seeded evaluation episodes (deterministic SB3 actions; the planner's mean plan). A run stops
at the first evaluation whose mean return reaches the threshold (CartPole >= 475, Pendulum
>= -200) or at --max-steps. "seconds" is training wall-clock up to that evaluation, evaluation
time excluded for both. Writes medians and ranges to benchmarks/results/worldmodel_vs_sb3.json
(merging with envs already there, so envs can run as separate processes).

    gmrl bench worldmodel --seeds 5
    python benchmarks/worldmodel_vs_sb3.py --envs Pendulum-v1 --seeds 3 --quick
"""

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

RESULTS = Path(__file__).resolve().parent / "results" / "worldmodel_vs_sb3.json"
CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "worldmodel"
SETTINGS: dict[str, dict[str, Any]] = {
    "CartPole-v1": {
        "config": "cartpole.yaml",
        "sb3": "PPO",
        "threshold": 475.0,
        "eval_every": 500,
        "max_steps": {"gmrl": 5000, "sb3": 100_000},
    },
    "Pendulum-v1": {
        "config": "pendulum.yaml",
        "sb3": "SAC",
        "threshold": -200.0,
        "eval_every": 250,
        "max_steps": {"gmrl": 3000, "sb3": 20_000},
    },
}
EVAL_EPISODES = 10


def eval_seed(seed: int) -> int:
    return 10_000 + seed * 100


def run_gmrl(env_id: str, seed: int, max_steps: int, eval_every: int, threshold: float) -> dict:
    """Train the world-model agent until an evaluation reaches `threshold`."""
    from gmrl.core.config import load_config
    from gmrl.core.seeding import seed_everything
    from gmrl.recipes import load_recipe
    from gmrl.recipes.worldmodel import build_agent

    config = load_config(
        CONFIGS / SETTINGS[env_id]["config"],
        [f"seed={seed}", "device=cpu"],
        lambda name: load_recipe(name).Config,
    )
    seed_everything(seed)
    agent = build_agent(config)
    train_s, curve = 0.0, []
    while agent.real_steps < max_steps:
        start = time.perf_counter()
        agent.train(eval_every)
        train_s += time.perf_counter() - start
        mean_return = agent.evaluate(EVAL_EPISODES, seed=eval_seed(seed))
        curve.append([agent.real_steps, mean_return])
        print(
            f"  gmrl {env_id} seed {seed}: {agent.real_steps} steps, return {mean_return:.1f}, "
            f"{train_s:.0f}s",
            flush=True,
        )
        if mean_return >= threshold:
            return {"steps": agent.real_steps, "seconds": train_s, "reached": True, "curve": curve}
    return {"steps": None, "seconds": train_s, "reached": False, "curve": curve}


def run_sb3(
    env_id: str, algo_name: str, seed: int, max_steps: int, eval_every: int, threshold: float
) -> dict:
    """Train SB3 (default hyper-parameters) with the same evaluation protocol."""
    import gymnasium as gym
    import stable_baselines3 as sb3
    from stable_baselines3.common.callbacks import BaseCallback

    from gmrl.worldmodel.agent import evaluate_policy

    algo = getattr(sb3, algo_name)(
        "MlpPolicy", gym.make(env_id), seed=seed, verbose=0, device="cpu"
    )
    record: dict[str, Any] = {"steps": None, "reached": False, "curve": []}

    class Evaluate(BaseCallback):
        def _on_training_start(self) -> None:
            self.start, self.paused = time.perf_counter(), 0.0

        def _on_step(self) -> bool:
            if self.num_timesteps % eval_every:
                return True
            pause = time.perf_counter()
            mean_return = evaluate_policy(
                lambda: gym.make(env_id),
                lambda obs, _: self.model.predict(obs, deterministic=True)[0],
                episodes=EVAL_EPISODES,
                seed=eval_seed(seed),
            )
            self.paused += time.perf_counter() - pause
            record["seconds"] = time.perf_counter() - self.start - self.paused
            record["curve"].append([self.num_timesteps, mean_return])
            if len(record["curve"]) % 10 == 0 or mean_return >= threshold:
                print(
                    f"  {algo_name} {env_id} seed {seed}: {self.num_timesteps} steps, "
                    f"return {mean_return:.1f}, {record['seconds']:.0f}s",
                    flush=True,
                )
            if mean_return >= threshold:
                record["steps"], record["reached"] = self.num_timesteps, True
                return False
            return True

    algo.learn(max_steps, callback=Evaluate())
    return record


def summarise(runs: list[dict]) -> dict:
    """Median and range of steps / seconds over seeds that reached the threshold."""
    hit = [r for r in runs if r["reached"]]
    out: dict[str, Any] = {"seeds_run": len(runs), "seeds_reached": len(hit)}
    for key in ("steps", "seconds"):
        values = [float(r[key]) for r in hit]
        out[f"{key}_median"] = statistics.median(values) if values else None
        out[f"{key}_range"] = [min(values), max(values)] if values else None
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--envs", default="CartPole-v1,Pendulum-v1")
    parser.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help="cap on real env steps per run (default: per env and agent)",
    )
    parser.add_argument("--quick", action="store_true", help="1 seed, small caps (smoke test)")
    parser.add_argument("--agents", default="gmrl,sb3", help="which of gmrl,sb3 to run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    seeds = 1 if args.quick else args.seeds
    agents = args.agents.split(",")
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    for env_id in args.envs.split(","):
        if env_id not in SETTINGS:
            sys.exit(f"error: unknown env '{env_id}' (have: {', '.join(SETTINGS)})")
        s = SETTINGS[env_id]
        caps = dict(s["max_steps"])
        if args.quick:
            caps = {"gmrl": 1000, "sb3": 2000}
        if args.max_steps is not None:
            caps = {k: args.max_steps for k in caps}
        entry: dict[str, Any] = {
            "threshold": s["threshold"],
            "eval_every": s["eval_every"],
            "eval_episodes": EVAL_EPISODES,
            "max_steps": caps,
            "seeds": list(range(seeds)),
            "config": f"configs/worldmodel/{s['config']}",
            "sb3_algo": s["sb3"],
        }
        for agent in agents:
            runs = []
            for seed in range(seeds):
                np.random.seed(seed)
                if agent == "gmrl":
                    record = run_gmrl(env_id, seed, caps["gmrl"], s["eval_every"], s["threshold"])
                else:
                    record = run_sb3(
                        env_id, s["sb3"], seed, caps["sb3"], s["eval_every"], s["threshold"]
                    )
                record["seed"] = seed
                runs.append(record)
                print(
                    f"{agent} {env_id} seed {seed}: steps {record['steps']}, "
                    f"{record.get('seconds', float('nan')):.1f}s",
                    flush=True,
                )
                entry[agent] = {"runs": runs, **summarise(runs)}
                results[env_id] = {**results.get(env_id, {}), **entry}
                results["machine"] = f"{platform.machine()} {platform.processor() or ''}".strip()
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps(results, indent=2) + "\n")
    for env_id in args.envs.split(","):
        row = results.get(env_id, {})
        for agent in ("gmrl", "sb3"):
            if agent in row:
                r = row[agent]
                print(
                    f"{env_id:12s} {agent:5s} reached {r['seeds_reached']}/{r['seeds_run']}  "
                    f"steps median {r['steps_median']} range {r['steps_range']}  "
                    f"seconds median {r['seconds_median']}"
                )


if __name__ == "__main__":
    main()
