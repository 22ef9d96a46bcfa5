"""Synthetic experience vs SAC: real env steps to a threshold, returns at fixed budgets, cost.

Side by side in one job, per env and seed (every row a normal gmrl run of a shipped config):

- `sac`: SB3 SAC with its defaults (UTD 1; learning rate 1e-3 as configs/rl/pendulum.yaml);
- `sac_utd`: SAC at the synthetic config's update-to-data ratio, real data only
  (`synthetic.ratio=0`): separates the generator's effect from the extra updates;
- `sac_synthetic`: the shipped synthetic config (half of each minibatch generated);
- `sac_untrained`: the same with a generator that never trains (`fit_steps=0`): what the
  generator's learning, rather than the mixing itself, is worth;
- `sac_synthetic_generated_terminal`: the generator's own `terminated` column instead of the
  classifier's labels (`synthetic.terminal=generated`);
- `dream` (Pendulum): gmrl's MBPO-style agent (world model learned with its reward, SAC trained
  in imagined rollouts; `configs/worldmodel/pendulum.yaml mode=dream model.reward=learned`).

Every row is evaluated every 250 real steps on 10 seeded episodes (deterministic actions); a
run's steps-to-threshold is its first evaluation at or above the threshold (Pendulum -200,
InvertedPendulum 950). Fidelity of the synthetic data (a classifier's real-vs-synthetic accuracy,
MMD, rows clipped into bounds) and the generator's share of wall-clock are recorded. Runs go to a
temporary folder; each finished run is appended to benchmarks/results/synthetic/runs.jsonl (a
rerun skips the runs already there), and the summary to benchmarks/results/synthetic_vs_sac.json.

    gmrl bench synthetic --seeds 5 --envs Pendulum-v1 --workers 2
    gmrl bench synthetic --seeds 3 --envs InvertedPendulum-v5 --workers 2
    gmrl bench synthetic --quick            # 1 seed, Pendulum, shorter budgets
"""

import argparse
import json
import math
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
RUNS_FILE = RESULTS / "synthetic" / "runs.jsonl"
SUMMARY_FILE = RESULTS / "synthetic_vs_sac.json"
PLOT_FILE = RESULTS / "synthetic_vs_sac.png"

ENVS: dict[str, dict[str, Any]] = {
    "Pendulum-v1": {"config": "configs/synthetic/pendulum.yaml", "threshold": -200.0,
                    "sac_budget": 5000, "dream": []},
    "InvertedPendulum-v5": {"config": "configs/synthetic/inverted_pendulum.yaml",
                            "threshold": 950.0, "sac_budget": None,
                            "dream": ["env.id=InvertedPendulum-v5", "model.termination=learned",
                                      "target_return=950"]},
}
ABLATIONS = {
    "sac_utd": ["synthetic.ratio=0"],
    "sac_synthetic": [],
    "sac_untrained": ["synthetic.generator.fit_steps=0", "synthetic.generator.first_fit_steps=0"],
    "sac_synthetic_generated_terminal": ["synthetic.terminal=generated"],
}
EVAL = ["eval_every=250", "eval_episodes=10"]


def jobs(envs: list[str], seeds: int, quick: bool) -> list[dict[str, Any]]:
    """Every (env, variant, seed) run as a config path plus overrides, seed-major (a job cut
    short still covers every env)."""
    return [job for seed in range(seeds) for env in envs for job in _env_jobs(env, seed, quick)]


def _env_jobs(env: str, seed: int, quick: bool) -> list[dict[str, Any]]:
    setting = ENVS[env]
    budget = ["total_steps=1000"] if quick else []
    common = [f"seed={seed}", "device=cpu", *EVAL]
    sac_budget = 2000 if quick else setting["sac_budget"]
    sac = ["recipe=rl", f"env={env}", "algo=sac", f"target_return={setting['threshold']}",
           *common, *([f"total_steps={sac_budget}"] if sac_budget else budget)]
    out = [{"env": env, "variant": "sac", "seed": seed, "recipe": "rl",
            "config": setting["config"], "overrides": sac}]
    for variant, extra in ABLATIONS.items():
        out.append({"env": env, "variant": variant, "seed": seed, "recipe": "synthetic",
                    "config": setting["config"], "overrides": [*common, *extra, *budget]})
    if setting["dream"] is not None:  # the Pendulum world-model config, pointed at this env
        dream = ["mode=dream", "model.reward=learned", "dream.algo=sac",
                 "dream.params.gradient_steps=16", "total_steps=2000", *setting["dream"], *common]
        out.append({"env": env, "variant": "dream", "seed": seed, "recipe": "worldmodel",
                    "config": "configs/worldmodel/pendulum.yaml", "overrides": dream + budget})
    return out


def _key(job: dict[str, Any]) -> str:
    return f"{job['env']}/{job['variant']}/{job['seed']}"


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """One run in a temporary run directory; its evaluation curve and cost figures."""
    import csv

    import torch

    from gmrl.core.config import dump_config, load_config, read_yaml_mapping
    from gmrl.core.rundir import RunDir
    from gmrl.recipes import load_recipe

    torch.set_num_threads(1)
    overrides = list(job["overrides"])
    if job["recipe"] == "rl":  # the rl recipe takes the env's SAC settings, not the synthetic ones
        base = read_yaml_mapping(ROOT / job["config"])
        overrides += [f"params.learning_rate={base['params']['learning_rate']}"]
        if not any(o.startswith("total_steps=") for o in overrides):
            overrides.append(f"total_steps={base['total_steps']}")
        path = ROOT / "configs" / "rl" / "pendulum.yaml"
    else:
        path = ROOT / job["config"]
    config = load_config(path, overrides, lambda name: load_recipe(name).Config)
    with tempfile.TemporaryDirectory() as folder:
        run = RunDir.create(folder, config.recipe, dump_config(config), quiet=True)
        start = time.perf_counter()
        try:
            summary = load_recipe(config.recipe).run(config, run)
        finally:
            run.close()
        seconds = time.perf_counter() - start
        with (run.path / "metrics.csv").open() as handle:
            rows = list(csv.DictReader(handle))
    curve = [[int(r["step"]), float(r["eval/mean_return"])] for r in rows
             if r.get("eval/mean_return")]
    return {**{k: job[k] for k in ("env", "variant", "seed")}, "overrides": job["overrides"],
            "curve": curve, "seconds": seconds,
            "generator_seconds": float(summary.get("time/generator_seconds", 0.0)),
            "summary": {k: v for k, v in summary.items() if isinstance(v, (int, float))}}


# ----------------------------------------------------------------------------- report
def steps_to(curve: list[list[float]], threshold: float) -> float | None:
    """First evaluated step whose mean return reaches `threshold` (None if never)."""
    return next((float(step) for step, ret in curve if ret >= threshold), None)


def return_at(curve: list[list[float]], budget: int) -> float | None:
    """The evaluation return at `budget` real steps (None if the run did not get there)."""
    return next((float(ret) for step, ret in curve if step == budget), None)


def _stats(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"median": None, "range": None, "n": 0}
    return {"median": statistics.median(values), "range": [min(values), max(values)],
            "n": len(values)}


def summarise(runs: list[dict[str, Any]], budgets: tuple[int, ...] = (1000, 2000)
              ) -> dict[str, Any]:
    """Per env and variant: steps to threshold, returns at budgets, cost and fidelity."""
    table: dict[str, Any] = {}
    for run in runs:
        table.setdefault(run["env"], {}).setdefault(run["variant"], []).append(run)
    out: dict[str, Any] = {}
    for env, variants in table.items():
        threshold = ENVS[env]["threshold"]
        out[env] = {"threshold": threshold}
        for variant, group in variants.items():
            reached = [steps_to(r["curve"], threshold) for r in group]
            hit = [s for s in reached if s is not None]
            ordered = sorted(math.inf if s is None else s for s in reached)
            middle = statistics.median(ordered) if ordered else math.inf
            row: dict[str, Any] = {
                "seeds": len(group), "seeds_reached": len(hit),
                "steps_to_threshold": _stats(hit),
                # over every seed, a seed that never reached it counting as infinitely many
                "steps_to_threshold_all_seeds_median": None if math.isinf(middle) else middle,
                "seconds": _stats([r["seconds"] for r in group]),
            }
            for budget in budgets:
                values = [return_at(r["curve"], budget) for r in group]
                row[f"return_at_{budget}"] = _stats([v for v in values if v is not None])
            shares = [r["generator_seconds"] / r["seconds"] for r in group
                      if r["generator_seconds"] > 0]
            if shares:
                row["generator_share_of_time"] = _stats(shares)
            for key in ("synthetic_classifier_accuracy", "synthetic_mmd",
                        "synthetic_out_of_bounds_fraction"):
                values = [r["summary"].get(key) for r in group]
                finite = [float(v) for v in values if v is not None and math.isfinite(v)]
                if finite:
                    row[key] = _stats(finite)
            out[env][variant] = row
    return out


def markdown(summary: dict[str, Any]) -> str:
    """The table docs/BENCHMARKS.md quotes."""
    lines = []
    for env, rows in summary.items():
        lines += [f"**{env}** (threshold {rows['threshold']:g})", "",
                  "| variant | seeds reached | steps to threshold: median of all seeds "
                  "(unreached = never) | of those reached: median [range] | return at 1k "
                  "| return at 2k | wall-clock s | generator share | classifier acc. |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for variant, row in rows.items():
            if variant == "threshold":
                continue

            def cell(stats: dict[str, Any] | None, fmt: str = "{:.0f}") -> str:
                if not stats or stats["median"] is None:
                    return "–"
                low, high = stats["range"]
                return f"{fmt.format(stats['median'])} [{fmt.format(low)}, {fmt.format(high)}]"

            everyone = row["steps_to_threshold_all_seeds_median"]
            lines.append(
                f"| {variant} | {row['seeds_reached']}/{row['seeds']} "
                f"| {'never' if everyone is None else f'{everyone:.0f}'} "
                f"| {cell(row['steps_to_threshold'])} | {cell(row['return_at_1000'])} "
                f"| {cell(row['return_at_2000'])} | {cell(row['seconds'])} "
                f"| {cell(row.get('generator_share_of_time'), '{:.2f}')} "
                f"| {cell(row.get('synthetic_classifier_accuracy'), '{:.2f}')} |"
            )
        lines.append("")
    return "\n".join(lines)


def plot(runs: list[dict[str, Any]], path: Path) -> None:
    """Median evaluation return against real steps, one panel per env."""
    from gmrl.core.plots import plt, save_figure

    envs = sorted({r["env"] for r in runs})
    palette = plt.get_cmap("tab10")
    colours = {v: palette(i) for i, v in enumerate(sorted({r["variant"] for r in runs}))}
    figure, axes = plt.subplots(1, len(envs), figsize=(6 * len(envs), 4), squeeze=False)
    for axis, env in zip(axes[0], envs, strict=True):
        variants = sorted({r["variant"] for r in runs if r["env"] == env})
        for variant in variants:
            curves = [dict(map(tuple, r["curve"])) for r in runs
                      if r["env"] == env and r["variant"] == variant]
            steps = sorted(set.intersection(*(set(c) for c in curves)))
            medians = [statistics.median(c[s] for c in curves) for s in steps]
            axis.plot(steps, medians, marker="o", ms=3, color=colours[variant],
                      label=f"{variant} (n={len(curves)})")
        axis.axhline(ENVS[env]["threshold"], color="grey", ls="--", lw=0.8)
        axis.set(title=env, xlabel="real env steps", ylabel="median eval return")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    save_figure(figure, path)


def load_runs() -> list[dict[str, Any]]:
    if not RUNS_FILE.is_file():
        return []
    return [json.loads(line) for line in RUNS_FILE.read_text().splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=["Pendulum-v1"], choices=list(ENVS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--variants", nargs="+", default=None,
                        help="subset of: sac sac_utd sac_synthetic sac_untrained dream")
    parser.add_argument("--workers", type=int, default=1, help="runs in parallel (1 CPU each)")
    parser.add_argument("--quick", action="store_true", help="1 seed, 1000-step budgets")
    args = parser.parse_args(argv)
    seeds = 1 if args.quick else args.seeds
    todo = [j for j in jobs(args.envs, seeds, args.quick)
            if args.variants is None or j["variant"] in args.variants]
    done = {_key(r) for r in load_runs()} if not args.quick else set()
    todo = [j for j in todo if _key(j) not in done]
    RUNS_FILE.parent.mkdir(parents=True, exist_ok=True)
    print(f"{len(todo)} runs to do ({len(done)} already in {RUNS_FILE.name})", flush=True)
    quick_runs: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = {pool.submit(run_job, job): job for job in todo}
        for future in as_completed(futures):
            result = future.result()
            best = max((ret for _, ret in result["curve"]), default=float("nan"))
            print(f"  {_key(result)}: best {best:.1f}, {result['seconds']:.0f}s", flush=True)
            if args.quick:
                quick_runs.append(result)
            else:
                with RUNS_FILE.open("a") as handle:
                    handle.write(json.dumps(result) + "\n")
    runs = quick_runs if args.quick else load_runs()
    summary = {"machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, "
                          f"Python {sys.version.split()[0]}",
               "workers": args.workers, "results": summarise(runs)}
    if not args.quick:
        SUMMARY_FILE.write_text(json.dumps(summary, indent=2) + "\n")
        plot(runs, PLOT_FILE)
    print(markdown(summary["results"]))


if __name__ == "__main__":
    main()
