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
  in imagined rollouts; `configs/worldmodel/pendulum.yaml mode=dream model.reward=learned`);
- other SB3 off-policy agents on the same buffer, unchanged: `td3` / `td3_synthetic` on
  Pendulum (the Pendulum config with `algo=td3`) and `dqn` / `dqn_synthetic` on CartPole
  (configs/synthetic/cartpole_dqn.yaml; the `dqn` row takes its update schedule, one gradient
  step per real step, so it is the UTD-matched peer; `dqn_zoo`: rl-baselines3-zoo's schedule,
  128 gradient steps every 256 real steps; `td3_utd`: TD3 at the synthetic config's UTD on
  real data only).

Every row is evaluated every 250 real steps (CartPole: 1,000) on 10 seeded episodes
(deterministic actions); a run's steps-to-threshold is its first evaluation at or above the
threshold (Pendulum -200, InvertedPendulum 950, CartPole 475). Fidelity of the synthetic data
(a classifier's real-vs-synthetic accuracy, MMD, rows clipped into bounds) and the generator's
share of wall-clock are recorded.

A function grid on the benchmark harness (`gmrl.bench.harness`): one cell per (env, variant,
seed), each one `gmrl run` of the row's config in a temporary run directory (the recipe seeded
with `seed=N`), on Ray (one CPU and one torch thread each; `--workers 1`: serially). Finished
cells are appended to benchmarks/results/synthetic_vs_sac.cells.jsonl (a rerun skips them); the
summary, benchmarks/results/synthetic_vs_sac.json, holds the harness's figures plus `runs` (each
cell's curve, seconds and recipe summary) and `results` (the table: per env and variant, steps
to threshold over all seeds and over those that reached it, returns at 1k / 2k, seconds,
generator share, fidelity), with the plot beside it. Rows of an env and variant with no harness
cell yet come from the pre-harness runs in benchmarks/results/synthetic/runs.jsonl (named in
`legacy_rows`), so the docs keep them until they are rerun here.

    gmrl bench synthetic --seeds 5 --variants 'Pendulum-v1/*' --workers 2
    gmrl bench synthetic --seeds 5 --variants 'Pendulum-v1/sac' 'Pendulum-v1/sac_utd' \
        'Pendulum-v1/sac_synthetic'
    gmrl bench synthetic --seeds 3 --variants 'InvertedPendulum-v5/*' --workers 2
    gmrl bench synthetic --seeds 1 --variants 'Pendulum-v1/td3*' 'CartPole-v1/*'
    gmrl bench synthetic --quick            # 1 seed, Pendulum, three rows, shorter budgets
"""

import json
import math
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from gmrl.bench.grid import FunctionGrid, Variant
from gmrl.bench.harness import main, script_function
from gmrl.bench.summary import latest
from gmrl.bench.tables import synthetic_markdown

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
RUNS_FILE = RESULTS / "synthetic" / "runs.jsonl"  # pre-harness runs (read, not written)
SUMMARY_FILE = RESULTS / "synthetic_vs_sac.json"

ENVS: dict[str, dict[str, Any]] = {
    "Pendulum-v1": {"config": "configs/synthetic/pendulum.yaml", "threshold": -200.0,
                    "sac_budget": 5000, "dream": []},
    "InvertedPendulum-v5": {"config": "configs/synthetic/inverted_pendulum.yaml",
                            "threshold": 950.0, "sac_budget": None,
                            "dream": ["env.id=InvertedPendulum-v5", "model.termination=learned",
                                      "target_return=950"]},
    "CartPole-v1": {"config": "configs/synthetic/cartpole_dqn.yaml", "threshold": 475.0,
                    "sac_budget": None, "dream": None, "sac": False, "eval_every": 1000},
}
# Other SB3 off-policy agents on the same buffer, unchanged (issue 27, item 3): per env, the
# agent alone (SB3 defaults and the env config's params, as the `sac` row) and with synthetic
# experience (the env's synthetic config with only `algo` changed). DQN's row matches the
# synthetic config's update schedule (one gradient step per real step), which is not SB3's
# default for DQN (4 steps per update).
OTHER_AGENTS: dict[str, dict[str, list[str]]] = {
    "Pendulum-v1": {"td3": []},
    "CartPole-v1": {"dqn": ["params.train_freq=1", "params.gradient_steps=1"]},
}
# More peers, each (recipe, overrides): DQN as rl-baselines3-zoo runs it on CartPole (128
# gradient steps every 256 real steps) beside the UTD-matched `dqn` row, and TD3 at the synthetic
# config's update-to-data ratio on real data only (as `sac_utd`).
EXTRA_PEERS: dict[str, dict[str, tuple[str, list[str]]]] = {
    "CartPole-v1": {"dqn_zoo": ("rl", ["algo=dqn", "params.train_freq=256",
                                       "params.gradient_steps=128"])},
    "Pendulum-v1": {"td3_utd": ("synthetic", ["algo=td3", "synthetic.ratio=0"])},
}
ABLATIONS = {
    "sac_utd": ["synthetic.ratio=0"],
    "sac_synthetic": [],
    "sac_untrained": ["synthetic.generator.fit_steps=0", "synthetic.generator.first_fit_steps=0"],
    "sac_synthetic_generated_terminal": ["synthetic.terminal=generated"],
}


QUICK_VARIANTS = ("Pendulum-v1/sac", "Pendulum-v1/sac_utd", "Pendulum-v1/sac_synthetic")


def _variants(quick: bool = False) -> tuple[Variant, ...]:
    """Every (env, row) as a recipe config plus overrides (the seed is the cell's); `quick`: the
    three Pendulum rows at 1,000 (synthetic) and 2,000 (SAC) real steps."""
    out: list[Variant] = []
    for env, setting in ENVS.items():
        budget = ["total_steps=1000"] if quick else []
        common = ["device=cpu", f"eval_every={setting.get('eval_every', 250)}",
                  "eval_episodes=10"]
        sac_budget = 2000 if quick else setting["sac_budget"]
        peer_budget = [f"total_steps={sac_budget}"] if sac_budget else budget
        if setting.get("sac", True):
            sac = ["recipe=rl", f"env={env}", "algo=sac",
                   f"target_return={setting['threshold']}", *common, *peer_budget]
            out.append(Variant(f"{env}/sac", {"recipe": "rl", "config": setting["config"],
                                              "overrides": sac}))
            for variant, extra in ABLATIONS.items():
                out.append(Variant(f"{env}/{variant}", {
                    "recipe": "synthetic", "config": setting["config"],
                    "overrides": [*common, *extra, *budget]}))
        for algo, schedule in OTHER_AGENTS.get(env, {}).items():
            alone = ["recipe=rl", f"env={env}", f"algo={algo}",
                     f"target_return={setting['threshold']}", *schedule, *common, *peer_budget]
            out.append(Variant(f"{env}/{algo}", {"recipe": "rl", "config": setting["config"],
                                                 "overrides": alone}))
            out.append(Variant(f"{env}/{algo}_synthetic", {
                "recipe": "synthetic", "config": setting["config"],
                "overrides": [f"algo={algo}", *common, *budget]}))
        for name, (recipe, extra) in EXTRA_PEERS.get(env, {}).items():
            peer = (["recipe=rl", f"env={env}", f"target_return={setting['threshold']}", *extra,
                     *common, *peer_budget] if recipe == "rl" else [*extra, *common, *budget])
            out.append(Variant(f"{env}/{name}", {"recipe": recipe, "config": setting["config"],
                                                 "overrides": peer}))
        if setting["dream"] is not None:  # the Pendulum world-model config, pointed at this env
            dream = ["mode=dream", "model.reward=learned", "dream.algo=sac",
                     "dream.params.gradient_steps=16", "total_steps=2000", *setting["dream"],
                     *common]
            out.append(Variant(f"{env}/dream", {
                "recipe": "worldmodel", "config": "configs/worldmodel/pendulum.yaml",
                "overrides": dream + budget}))
    return tuple(v for v in out if not quick or v.name in QUICK_VARIANTS)


def run_one(settings: dict[str, Any], seed: int) -> dict[str, Any]:
    """One `gmrl run` of the row's config in a temporary run directory: its evaluation curve,
    wall-clock, generator seconds and the recipe's numeric summary."""
    import csv

    from gmrl.core.config import dump_config, load_config, read_yaml_mapping
    from gmrl.core.rundir import RunDir
    from gmrl.recipes import load_recipe

    overrides = [*settings["overrides"], f"seed={seed}"]
    if settings["recipe"] == "rl":  # the rl recipe takes the agent's settings of the env config
        base = read_yaml_mapping(ROOT / settings["config"])
        overrides = [*(f"params.{key}={json.dumps(value)}"
                       for key, value in base["params"].items()), *overrides]
        if not any(o.startswith("total_steps=") for o in overrides):
            overrides.append(f"total_steps={base['total_steps']}")
        path = ROOT / "configs" / "rl" / "pendulum.yaml"
    else:
        path = ROOT / settings["config"]
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
    numbers = {k: float(v) for k, v in summary.items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)
               and math.isfinite(float(v))}
    return {"curve": curve, "seconds": seconds,
            "generator_seconds": float(summary.get("time/generator_seconds", 0.0)),
            "summary": numbers}


def _grid(quick: bool = False) -> FunctionGrid:
    return FunctionGrid(
        name="synthetic_vs_sac",
        description="SB3 SAC vs UTD-matched SAC vs SAC + synthetic experience (and ablations, "
        "dream mode): real env steps to threshold",
        function=script_function(__file__, "run_one"), variants=_variants(quick),
        seeds=tuple(range(5)), show=("seconds", "generator_seconds"))


GRID = _grid()
QUICK = replace(_grid(quick=True), seeds=(0,))


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


def runs_of(grid: FunctionGrid, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The grid's recorded cells as runs: env, variant, seed, overrides, curve, seconds,
    generator seconds and the recipe's summary."""
    runs = []
    for r in latest(records, grid):
        env, _, variant = r["variant"].partition("/")
        runs.append({"env": env, "variant": variant, "seed": r["seed"],
                     "overrides": [*r["spec"]["settings"]["overrides"], f"seed={r['seed']}"],
                     **r["metrics"]})
    return runs


def load_legacy_runs() -> list[dict[str, Any]]:
    """The pre-harness runs (benchmarks/results/synthetic/runs.jsonl)."""
    if not RUNS_FILE.is_file():
        return []
    return [json.loads(line) for line in RUNS_FILE.read_text().splitlines() if line.strip()]


def report(grid: FunctionGrid, out: Path, records: list[dict[str, Any]]) -> dict[str, Any]:
    """`runs`, `results` (the table) and the plot beside `out`; rows with no harness cell come
    from the pre-harness runs when `out` is the recorded summary (not a quick or test run)."""
    runs = runs_of(grid, records)
    have = {(r["env"], r["variant"]) for r in runs}
    legacy = [r for r in load_legacy_runs() if (r["env"], r["variant"]) not in have] \
        if out.resolve() == SUMMARY_FILE.resolve() else []
    legacy_rows = sorted({f"{r['env']}/{r['variant']}" for r in legacy})
    everything = runs + legacy
    if everything:
        plot(everything, out.with_suffix(".png"))
    return {"runs": runs, "legacy_rows": legacy_rows, "results": summarise(everything)}


def tables(summary: dict[str, Any]) -> list[str]:
    return ["", *synthetic_markdown(summary["results"])]


if __name__ == "__main__":
    raise SystemExit(main(GRID, quick=QUICK, default_out=SUMMARY_FILE, extend=report,
                          tables=tables))
