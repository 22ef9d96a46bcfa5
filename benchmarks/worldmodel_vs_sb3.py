"""World-model agent vs model-free SB3: real env steps and seconds to a return threshold.

A grid on the benchmark harness (`gmrl.bench.harness`), per env and seed, side by side:
- `gmrl`: the v1 world-model agent with its per-env config, unchanged
  (configs/worldmodel/cartpole.yaml, pendulum.yaml). These configs write down prior knowledge:
  the env's termination in closed form, CartPole's shaped "stay centred" planning reward,
  Pendulum's true reward (the PETS convention). The default config, which learns both, is
  measured in benchmarks/worldmodel_suite.py;
- `sb3`: SB3 with its default hyper-parameters, PPO on CartPole-v1 and SAC on Pendulum-v1
  (`gmrl.bench.peers.sb3_default`).
Each agent learns with one `learn(budget)` call and is evaluated every 500 (CartPole) or 250
(Pendulum) real steps on 10 deterministic episodes, the same start states for both agents of a
seed (`gmrl.rl.rollout.evaluate_agent`); a cell stops at the first evaluation at or above the
threshold (CartPole 475, Pendulum -200) or at its budget (gmrl 5,000 / 3,000; SB3 100,000 /
20,000). Seconds are training wall-clock up to that evaluation, evaluations excluded.

Cells go to benchmarks/results/worldmodel_vs_sb3.cells.jsonl (a rerun skips recorded ones), the
summary to benchmarks/results/worldmodel_vs_sb3.json: the harness's, plus one entry per env in
the shape the docs' table and headline read (`{env: {threshold, ..., gmrl: {steps_median,
...}, sb3: {...}}}`). The pre-harness run (its own loop) is kept in
benchmarks/results/worldmodel_vs_sb3/pre_harness.json for comparison; an env and agent with no
harness cell yet takes its entry from there (named in `legacy_rows`) when the summary written is
the recorded one.

    gmrl bench worldmodel --seeds 5
    gmrl bench worldmodel --seeds 5 --ray-address auto
    python benchmarks/worldmodel_vs_sb3.py --tasks Pendulum-v1 --seeds 3 --workers 2
    python benchmarks/worldmodel_vs_sb3.py --quick --workers 1 --out /tmp/wm/vs.json
"""

import json
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

from gmrl.bench.grid import AgentSpec, Evaluation, Grid, Task
from gmrl.bench.harness import main
from gmrl.bench.summary import latest

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "worldmodel_vs_sb3.json"
PRE_HARNESS = HERE / "results" / "worldmodel_vs_sb3" / "pre_harness.json"
CONFIGS = HERE.parent / "configs" / "worldmodel"
EVAL_EPISODES = 10
# env: its config, threshold, evaluation interval, budgets (gmrl, SB3) and SB3's algorithm
SETTINGS: dict[str, dict[str, Any]] = {
    "CartPole-v1": {"config": "cartpole.yaml", "threshold": 475.0, "every": 500,
                    "budget": (5000, 100_000), "sb3": "PPO"},
    "Pendulum-v1": {"config": "pendulum.yaml", "threshold": -200.0, "every": 250,
                    "budget": (3000, 20_000), "sb3": "SAC"},
}


def tuned_settings(config: str) -> dict[str, Any]:
    """The agent keys of configs/worldmodel/<config>, as JSON (what `gmrl run` builds)."""
    from gmrl.core.config import load_config
    from gmrl.recipes import load_recipe
    from gmrl.worldmodel.contract import WorldModelConfig

    loaded = load_config(CONFIGS / config, [], lambda name: load_recipe(name).Config)
    return loaded.model_dump(mode="json", include=set(WorldModelConfig.model_fields))


def _agents() -> tuple[AgentSpec, ...]:
    """Per env, `gmrl` (its config) and `sb3`, each evaluated at that env's interval."""
    specs: list[AgentSpec] = []
    for env, s in SETTINGS.items():
        evaluation = Evaluation(episodes=EVAL_EPISODES, every=s["every"])
        specs += [
            AgentSpec("gmrl", {"agent": "worldmodel", "config": tuned_settings(s["config"]),
                               "device": "cpu"}, evaluation=evaluation, tasks=(env,)),
            AgentSpec("sb3", {}, make="gmrl.bench.peers:sb3_default", evaluation=evaluation,
                      tasks=(env,)),
        ]
    return tuple(specs)


GRID = Grid(
    name="worldmodel_vs_sb3",
    description="gmrl's world-model agent (per-env configs) vs SB3 PPO/SAC with defaults: real "
    "env steps to threshold on CartPole-v1 and Pendulum-v1",
    tasks=tuple(Task(env, threshold=s["threshold"],
                     budgets={"gmrl": s["budget"][0], "sb3": s["budget"][1]})
                for env, s in SETTINGS.items()),
    agents=_agents(),
    seeds=tuple(range(5)),
    budget=5000,
)
# 1 seed, budgets 1,000 (gmrl) and 2,000 (SB3) real steps
QUICK = replace(GRID, seeds=(0,), tasks=tuple(
    replace(t, budgets={"gmrl": 1000, "sb3": 2000}) for t in GRID.tasks))


def per_env(grid: Any, out: Path, records: list[dict[str, Any]]) -> dict[str, Any]:
    """`{env: entry}` from the grid's cells: threshold, interval, budgets, config, and per
    agent the runs with medians and ranges over the seeds that reached the threshold (from the
    pre-harness run where no cell is recorded yet, for the recorded summary)."""
    mine = latest(records, grid)
    legacy = json.loads(PRE_HARNESS.read_text()) if out.resolve() == RESULTS.resolve() else {}
    entries: dict[str, Any] = {"legacy_rows": []}
    for task in grid.tasks:
        s = SETTINGS[task.label]
        entry: dict[str, Any] = {
            "threshold": task.threshold, "eval_every": s["every"],
            "eval_episodes": EVAL_EPISODES,
            "max_steps": {a.name: grid.budget_for(task, a) for a in grid.agents
                          if task.label in a.tasks},
            "seeds": list(grid.seeds), "config": f"configs/worldmodel/{s['config']}",
            "sb3_algo": s["sb3"],
        }
        for agent in ("gmrl", "sb3"):
            runs = [{"seed": r["seed"], "steps": r["steps_to_threshold"],
                     "seconds": r["seconds_to_threshold"], "reached": r["reached"],
                     "curve": [point[:2] for point in r["curve"]]}
                    for r in mine if r["task"] == task.label and r["agent"] == agent]
            if runs:
                entry[agent] = {"runs": runs, **_medians(runs)}
            elif agent in legacy.get(task.label, {}):
                entry[agent] = legacy[task.label][agent]
                entry["max_steps"][agent] = legacy[task.label]["max_steps"][agent]
                entries["legacy_rows"].append(f"{task.label}/{agent}")
        if "gmrl" in entry or "sb3" in entry:
            entries[task.label] = entry
    return entries


def _medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    hit = [r for r in runs if r["reached"]]
    out: dict[str, Any] = {"seeds_run": len(runs), "seeds_reached": len(hit)}
    for key in ("steps", "seconds"):
        values = [float(r[key]) for r in hit]
        out[f"{key}_median"] = statistics.median(values) if values else None
        out[f"{key}_range"] = [min(values), max(values)] if values else None
    return out


if __name__ == "__main__":
    raise SystemExit(main(GRID, quick=QUICK, default_out=RESULTS, extend=per_env))
