"""World Models on pixels vs a random policy: CartPole from frames alone, several seeds.

A function grid on the benchmark harness (`gmrl.bench.harness`): one cell per seed, each a
`gmrl run` of configs/worldmodel/cartpole_pixels.yaml (the `worldmodel_pixels` recipe, seeded
with `seed=N`) followed by a uniformly random policy on the same pixel env (same action repeat)
and on plain CartPole-v1 (no repeat) over 20 episodes. A cell records the return after each
iteration against real env steps (every underlying env step counts, including the random
warm-up and the episodes used to evaluate) and the recipe's summary. Cells run on Ray (one CPU
and one torch thread each; `--workers 1`: serially) and are appended to
benchmarks/results/worldmodel_pixels.cells.jsonl (a rerun skips them); the summary,
benchmarks/results/worldmodel_pixels.json, adds the median and range over seeds of the final
and best returns and real steps, and the random policy's median return.

    gmrl bench worldmodel_pixels --seeds 3 --workers 3
    python benchmarks/worldmodel_pixels.py --seeds 1 --workers 1
    python benchmarks/worldmodel_pixels.py --quick --out benchmarks/results/quick/pixels.json
"""

import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from gmrl.bench.grid import FunctionGrid, Variant
from gmrl.bench.harness import main, script_function
from gmrl.bench.summary import latest
from gmrl.core.seeding import derive_seed
from gmrl.rl.rollout import episode_seeds, record_episodes
from gmrl.worldmodel.pixels import make_pixel_env

RESULTS = Path(__file__).resolve().parent / "results" / "worldmodel_pixels.json"
CONFIG = Path(__file__).resolve().parents[1] / "configs" / "worldmodel" / "cartpole_pixels.yaml"
# --quick (gmrl bench all --quick): 1 seed, fewer iterations and shorter model/dream training
QUICK_OVERRIDES = ["iterations=3", "random_episodes=10", "model.first_vae_steps=400",
         "model.first_rnn_steps=400", "model.rnn_steps=200", "controller.dream_steps=10000"]


def random_returns(make_env: Callable[[], gym.Env], episodes: int, seed: int) -> list[float]:
    """Returns of a uniformly random policy, played by the shared episode recorder
    (`gmrl.rl.rollout.record_episodes`): the action space seeded once with `seed`, the episodes
    reset with seeds spawned from `derive_seed(seed, "random_baseline")`."""
    space = make_env().action_space
    space.seed(seed)
    played = record_episodes(make_env, lambda: lambda _obs: space.sample(),
                             episode_seeds(derive_seed(seed, "random_baseline"), episodes))
    return [float(episode["reward"].sum()) for episode in played]


def run_one(settings: dict[str, Any], seed: int) -> dict[str, Any]:
    """One run of the pixel config with the variant's overrides, then the random baselines."""
    from gmrl.core.config import load_config
    from gmrl.core.rundir import RunDir
    from gmrl.recipes import load_recipe

    config = load_config(CONFIG, [f"seed={seed}", "device=cpu", *settings["overrides"]],
                         lambda name: load_recipe(name).Config)
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
        "summary": summary,
        "curve": curve,
        "seconds": seconds,
        "final_return": float(summary["final_return"]),
        "best_return": float(summary["best_return"]),
        "real_env_steps": float(summary["real_env_steps"]),
        "random_same_env": float(np.mean(random_returns(pixel_env, 20, seed))),
        "random_plain_cartpole": float(np.mean(random_returns(
            lambda: gym.make(config.env_id), 20, seed))),
    }


def _grid(variants: tuple[Variant, ...]) -> FunctionGrid:
    return FunctionGrid(
        name="worldmodel_pixels",
        description="World Models (frame VAE + MDN-RNN + controller) on pixel CartPole vs a "
        "random policy",
        function=script_function(__file__, "run_one"), variants=variants, seeds=(0, 1, 2),
        show=("final_return", "best_return", "real_env_steps", "random_same_env"))


GRID = _grid((Variant("shipped config", {"overrides": []}),))
QUICK = replace(_grid((Variant("quick", {"overrides": QUICK_OVERRIDES}),)), seeds=(0,))


def report(grid: FunctionGrid, out: Path, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures docs/BENCHMARKS.md and `gmrl bench all` read: over the first variant's
    seeds, median and range of the final and best returns and real steps, the random policy's
    median returns, and every run."""
    mine = [r for r in latest(records, grid) if r["variant"] == grid.variants[0].name]
    if not mine:
        return {}
    runs = [{"seed": r["seed"], **r["metrics"]} for r in mine]

    def spread(key: str) -> dict[str, float]:
        values = [float(r[key]) for r in runs]
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    return {
        "overrides": list(grid.variants[0].settings["overrides"]),
        "final_return": spread("final_return"), "best_return": spread("best_return"),
        "real_env_steps": spread("real_env_steps"),
        "random_same_env": statistics.median(r["random_same_env"] for r in runs),
        "random_plain_cartpole": statistics.median(r["random_plain_cartpole"] for r in runs),
        "runs": runs,
    }


if __name__ == "__main__":
    raise SystemExit(main(GRID, quick=QUICK, default_out=RESULTS, extend=report))
