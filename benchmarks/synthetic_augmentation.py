"""Synthetic transitions as data augmentation for a supervised one-step dynamics model.

For each environment, real-data size N, seed and synthetic multiple k, a dynamics MLP
((obs, action) -> (next_obs - obs, reward)) is trained on N random-policy transitions plus k*N
transitions sampled from a `TransitionGenerator` fitted on those same N, and scored on 2,000
held-out real transitions (`gmrl.synthetic.augment`). k = 0 is the real-only baseline; every
model takes the same gradient steps from the same initial weights.

A function grid on the benchmark harness (`gmrl.bench.harness`): one variant per environment
and N ("Pendulum-v1/n100"), one cell per variant and seed, each fitting one generator and one
dynamics model per multiple. Seeds: the real and held-out transitions of a cell come from
`derive_seed(seed, "train_data")` / `derive_seed(seed, "test_data")`, the generator and the
models from the cell's seed. Cells run on Ray (one CPU and one torch thread each;
`--workers 1`: serially), are appended to benchmarks/results/synthetic_augmentation.cells.jsonl
(a rerun skips them), and the summary, with `normalised_mse` ({env: {N: {k: median [min,
max]}}}) and every (cell, multiple) row in `runs`, goes to
benchmarks/results/synthetic_augmentation.json, the plot to synthetic_augmentation.png.

    gmrl bench synthetic_augmentation --seeds 3
    nice .venv/bin/python benchmarks/synthetic_augmentation.py --seeds 3 --workers 1
    python benchmarks/synthetic_augmentation.py --variants 'Pendulum-v1/*' --seeds 1
    python benchmarks/synthetic_augmentation.py --quick \
        --out benchmarks/results/quick/synthetic_augmentation.json
"""

from dataclasses import replace
from pathlib import Path
from typing import Any

from gmrl.bench.grid import FunctionGrid, Variant
from gmrl.bench.harness import main, script_function
from gmrl.bench.summary import latest, stats
from gmrl.bench.tables import synthetic_augmentation
from gmrl.synthetic.augment import DynamicsConfig
from gmrl.synthetic.config import TransitionModelConfig

RESULTS = Path(__file__).resolve().parent / "results" / "synthetic_augmentation.json"
ENVS = ("Pendulum-v1", "InvertedPendulum-v5")
SIZES = (100, 300, 1000)
MULTIPLES = (0.0, 1.0, 5.0, 10.0)
GENERATOR = TransitionModelConfig(name="diffusion")  # or vae, flow, gan
DYNAMICS = DynamicsConfig()
N_HELD_OUT = 2000


def run_one(settings: dict[str, Any], seed: int) -> dict[str, Any]:
    """One environment, real-data size and seed: held-out errors for every multiple, as
    `normalised_mse/<k>` numbers (summarised) and `by_multiple` (every figure, for `runs`)."""
    from gmrl.core.seeding import derive_seed
    from gmrl.synthetic.augment import augmentation_errors, random_policy_transitions

    env = settings["env"]
    layout, real = random_policy_transitions(env, settings["n_real"],
                                             seed=derive_seed(seed, "train_data"))
    _, held_out = random_policy_transitions(env, settings["held_out"],
                                            seed=derive_seed(seed, "test_data"))
    results = augmentation_errors(
        layout, real, held_out, seed=seed, multiples=tuple(settings["multiples"]),
        generator=TransitionModelConfig(**settings["generator"]),
        dynamics=DynamicsConfig(**settings["dynamics"]))
    return {**{f"normalised_mse/{k:g}": r.normalised_mse for k, r in results.items()},
            "by_multiple": {f"{k:g}": vars(r) for k, r in results.items()}}


def _variant(env: str, n: int, multiples: tuple[float, ...] = MULTIPLES) -> Variant:
    return Variant(f"{env}/n{n}", {
        "env": env, "n_real": n, "multiples": list(multiples), "held_out": N_HELD_OUT,
        "generator": GENERATOR.model_dump(), "dynamics": DYNAMICS.model_dump()})


GRID = FunctionGrid(
    name="synthetic_augmentation",
    description="a dynamics model trained on real transitions alone vs real plus k x "
    "generated ones: held-out normalised MSE",
    function=script_function(__file__, "run_one"),
    variants=tuple(_variant(env, n) for env in ENVS for n in SIZES),
    seeds=(0, 1, 2),
)
QUICK = replace(GRID, seeds=(0,), variants=tuple(_variant("Pendulum-v1", n, (0.0, 5.0))
                                                 for n in (100, 300)))


def report(grid: FunctionGrid, out: Path, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The pre-harness script's `settings`, `normalised_mse` ({env: {N: {k: median [min,
    max]}}}, which the table reads) and `runs` (one row per cell and multiple); draws the plot
    beside `out`."""
    rows = [{"env": s["env"], "n_real": s["n_real"], "multiple": float(k), "seed": r["seed"],
             **figures}
            for r in latest(records, grid) for s in [r["spec"]["settings"]]
            for k, figures in r["metrics"]["by_multiple"].items()]
    envs = list(dict.fromkeys(v.settings["env"] for v in grid.variants))
    sizes = sorted({int(v.settings["n_real"]) for v in grid.variants})
    multiples = sorted({float(k) for v in grid.variants for k in v.settings["multiples"]})
    table: dict[str, Any] = {}
    for env in envs:
        for n in sizes:
            for k in multiples:
                spread = stats(r["normalised_mse"] for r in rows
                               if r["env"] == env and r["n_real"] == n and r["multiple"] == k)
                if spread is not None:
                    table.setdefault(env, {}).setdefault(str(n), {})[f"{k:g}"] = spread
    if table:
        plot(table, out.with_suffix(".png"))
    return {"settings": {"held_out": N_HELD_OUT, "held_out_seed": "derive_seed(seed, "
                         "'test_data')", "data": "uniformly random policy",
                         "generator": GENERATOR.model_dump(), "dynamics": DYNAMICS.model_dump()},
            "normalised_mse": table, "runs": rows}


def plot(table: dict[str, Any], path: Path) -> None:
    """Median held-out normalised MSE vs real-data size, one line per multiple (min-max bars)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gmrl.core.plots import save_figure

    figure, axes = plt.subplots(1, len(table), figsize=(5 * len(table), 4), squeeze=False)
    for ax, (env, by_size) in zip(axes[0], table.items(), strict=True):
        sizes = sorted(by_size, key=int)
        for k in dict.fromkeys(k for n in sizes for k in by_size[n]):
            points = [(int(n), by_size[n][k]) for n in sizes if k in by_size[n]]
            mid = [s["median"] for _, s in points]
            err = [[s["median"] - s["min"] for _, s in points],
                   [s["max"] - s["median"] for _, s in points]]
            label = "real only" if float(k) == 0 else f"+{k}x synthetic"
            ax.errorbar([n for n, _ in points], mid, yerr=err, marker="o", capsize=3,
                        label=label)
        ax.set(xscale="log", yscale="log", title=env, xlabel="real transitions N",
               ylabel="held-out MSE / variance (mean over targets)")
        ax.legend()
    save_figure(figure, path)


def tables(summary: dict[str, Any]) -> list[str]:
    return ["", *synthetic_augmentation(summary, "")]


if __name__ == "__main__":
    raise SystemExit(main(GRID, quick=QUICK, default_out=RESULTS, extend=report, tables=tables))
