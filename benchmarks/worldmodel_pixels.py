"""World Models on pixels vs a random policy: CartPole from frames alone, several seeds.

For each seed, in this one process: the `worldmodel_pixels` recipe with
configs/worldmodel/cartpole_pixels.yaml (plus any overrides given), and a uniformly random
policy on the same pixel env (same action repeat) and on plain CartPole-v1 (no repeat) over
20 episodes. Records per seed the return after each iteration against real env steps (every
underlying env step counts, including the random warm-up and the episodes used to evaluate),
then the median and range over seeds, in benchmarks/results/worldmodel_pixels.json.

    python benchmarks/worldmodel_pixels.py --seeds 3 --workers 3
    python benchmarks/worldmodel_pixels.py --seeds 1 iterations=4     # overrides after flags
    python benchmarks/worldmodel_pixels.py --quick --out benchmarks/results/quick/pixels.json
"""

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from gmrl.core.config import load_config
from gmrl.core.rundir import RunDir
from gmrl.recipes import load_recipe
from gmrl.rl.rollout import record_episodes
from gmrl.worldmodel.pixels import make_pixel_env

RESULTS = Path(__file__).resolve().parent / "results" / "worldmodel_pixels.json"
CONFIG = Path(__file__).resolve().parents[1] / "configs" / "worldmodel" / "cartpole_pixels.yaml"
# --quick (gmrl bench all --quick): 1 seed, fewer iterations and shorter model/dream training;
# overrides given on the command line still win.
QUICK = ["iterations=3", "random_episodes=10", "model.first_vae_steps=400",
         "model.first_rnn_steps=400", "model.rnn_steps=200", "controller.dream_steps=10000"]


def random_returns(make_env: Callable[[], gym.Env], episodes: int, seed: int) -> list[float]:
    """Returns of a uniformly random policy, played by the shared episode recorder
    (`gmrl.rl.rollout.record_episodes`): the action space seeded once with `seed`, episode `i`
    reset with seed `seed * 1000 + i`."""
    space = make_env().action_space
    space.seed(seed)
    played = record_episodes(make_env, lambda: lambda _obs: space.sample(),
                             [seed * 1000 + index for index in range(episodes)])
    return [float(episode["reward"].sum()) for episode in played]


def run_seed(seed: int, overrides: list[str]) -> dict:
    torch.set_num_threads(1)
    config = load_config(
        CONFIG, [f"seed={seed}", "device=cpu", *overrides], lambda name: load_recipe(name).Config
    )
    recipe = load_recipe("worldmodel_pixels")
    recipe.prepare(config)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as root:
        run = RunDir.create(root, "worldmodel_pixels", "", quiet=True)
        summary = recipe.run(config, run)
        curve = [
            [int(r["charts/real_env_steps"]), float(r["charts/episodic_return"])] for r in run.rows
        ]
        run.close()
    seconds = time.perf_counter() - start
    repeat = config.frames.action_repeat
    def pixel_env() -> gym.Env:
        return make_pixel_env(config.env_id, size=config.frames.size, action_repeat=repeat)

    return {
        "seed": seed,
        "summary": summary,
        "curve": curve,
        "seconds": seconds,
        "random_same_env": float(np.mean(random_returns(pixel_env, 20, seed))),
        "random_plain_cartpole": float(np.mean(random_returns(
            lambda: gym.make(config.env_id), 20, seed))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="seeds run in parallel processes")
    parser.add_argument("--quick", action="store_true", help="1 seed, short budgets")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. iterations=4")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.overrides = 1, [*QUICK, *args.overrides]
    torch.set_num_threads(1)
    jobs = [(seed, args.overrides) for seed in range(args.seeds)]
    if args.workers > 1:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
            runs = pool.starmap(run_seed, jobs)
    else:
        runs = [run_seed(*job) for job in jobs]
    for seed, result in enumerate(runs):
        print(
            f"seed {seed}: final {result['summary']['final_return']:.1f}, best "
            f"{result['summary']['best_return']:.1f} after "
            f"{result['summary']['real_env_steps']:.0f} env steps; random "
            f"{result['random_same_env']:.1f} (repeat) / {result['random_plain_cartpole']:.1f}",
            flush=True,
        )

    def spread(key: str) -> dict:
        values = [r["summary"][key] for r in runs]
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    report = {
        "command": " ".join(["python", *sys.argv]),
        "machine": f"{platform.machine()} {platform.processor() or ''} {torch.get_num_threads()} "
        "torch thread(s), shared CPU (timings inflated by other jobs)",
        "overrides": args.overrides,
        "final_return": spread("final_return"),
        "best_return": spread("best_return"),
        "real_env_steps": spread("real_env_steps"),
        "random_same_env": statistics.median(r["random_same_env"] for r in runs),
        "random_plain_cartpole": statistics.median(r["random_plain_cartpole"] for r in runs),
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
