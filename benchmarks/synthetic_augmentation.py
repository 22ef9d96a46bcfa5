"""Synthetic transitions as data augmentation for a supervised one-step dynamics model.

For each environment, real-data size N, seed and synthetic multiple k, a dynamics MLP
((obs, action) -> (next_obs - obs, reward)) is trained on N random-policy transitions plus k*N
transitions sampled from a `TransitionGenerator` fitted on those same N, and scored on 2,000
held-out real transitions (`gmrl.synthetic.augment`). k = 0 is the real-only baseline; every
model takes the same gradient steps from the same initial weights. Writes
benchmarks/results/synthetic_augmentation.json and synthetic_augmentation.png.

    nice .venv/bin/python benchmarks/synthetic_augmentation.py --seeds 0 1 2
"""

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from gmrl.core.checkpoint import atomic_write_text
from gmrl.core.plots import save_figure
from gmrl.synthetic.augment import DynamicsConfig, augmentation_errors, random_policy_transitions
from gmrl.synthetic.config import TransitionModelConfig

N_HELD_OUT, HELD_OUT_SEED = 2000, 10_000


def medians(rows: list[dict], env: str, n: int, k: float, key: str) -> tuple[float, float, float]:
    """(median, min, max) of `key` over seeds for one cell."""
    values = [r[key] for r in rows if r["env"] == env and r["n_real"] == n and r["multiple"] == k]
    return statistics.median(values), min(values), max(values)


def plot(rows: list[dict], envs: list[str], sizes: list[int], multiples: list[float],
         path: Path) -> None:
    """Median held-out normalised MSE vs real-data size, one line per multiple (min-max bars)."""
    figure, axes = plt.subplots(1, len(envs), figsize=(5 * len(envs), 4), squeeze=False)
    for ax, env in zip(axes[0], envs, strict=True):
        for k in multiples:
            stats = [medians(rows, env, n, k, "normalised_mse") for n in sizes]
            mid = [s[0] for s in stats]
            err = [[s[0] - s[1] for s in stats], [s[2] - s[0] for s in stats]]
            label = "real only" if k == 0 else f"+{k:g}x synthetic"
            ax.errorbar(sizes, mid, yerr=err, marker="o", capsize=3, label=label)
        ax.set(xscale="log", yscale="log", title=env, xlabel="real transitions N",
               ylabel="held-out MSE / variance (mean over targets)")
        ax.legend()
    save_figure(figure, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=["Pendulum-v1", "InvertedPendulum-v5"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[100, 300, 1000])
    parser.add_argument("--multiples", nargs="+", type=float, default=[0, 1, 5, 10])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--generator", default="diffusion", choices=["diffusion", "vae", "flow",
                                                                        "gan"])
    parser.add_argument("--out", default="benchmarks/results/synthetic_augmentation.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    generator, dynamics = TransitionModelConfig(name=args.generator), DynamicsConfig()
    rows: list[dict] = []
    start = time.perf_counter()
    for env in args.envs:
        _, held_out = random_policy_transitions(env, N_HELD_OUT, seed=HELD_OUT_SEED)
        for n in args.sizes:
            for seed in args.seeds:
                layout, real = random_policy_transitions(env, n, seed=seed)
                cell = time.perf_counter()
                results = augmentation_errors(layout, real, held_out, seed=seed,
                                              multiples=tuple(args.multiples),
                                              generator=generator, dynamics=dynamics)
                for k, r in results.items():
                    rows.append({"env": env, "n_real": n, "multiple": k, "seed": seed,
                                 **vars(r)})
                print(env, n, seed, f"{time.perf_counter() - cell:.0f}s",
                      {k: round(r.normalised_mse, 4) for k, r in results.items()}, flush=True)
    summary = {
        env: {
            str(n): {f"{k:g}": dict(zip(("median", "min", "max"),
                                        medians(rows, env, n, k, "normalised_mse"), strict=True))
                     for k in args.multiples}
            for n in args.sizes
        }
        for env in args.envs
    }
    out = Path(args.out)
    report = {
        "command": "python benchmarks/synthetic_augmentation.py "
        + " ".join(f"--{k} {' '.join(map(str, v)) if isinstance(v, list) else v}"
                   for k, v in vars(args).items() if k != "out"),
        "machine": f"{platform.machine()} torch {torch.__version__}, 1 thread",
        "seconds": time.perf_counter() - start,
        "settings": {"held_out": N_HELD_OUT, "held_out_seed": HELD_OUT_SEED,
                     "data": "uniformly random policy", "generator": generator.model_dump(),
                     "dynamics": dynamics.model_dump()},
        "normalised_mse": summary,
        "runs": rows,
    }
    atomic_write_text(out, json.dumps(report, indent=2) + "\n")
    plot(rows, args.envs, args.sizes, args.multiples, out.with_suffix(".png"))
    print("wrote", out, "and", out.with_suffix(".png"))


if __name__ == "__main__":
    main()
