"""DeepMind Control tasks: the world-model agents (v1 and v2, default configs) beside SB3 SAC.

The suite's agents on dm_control tasks through `shimmy` (`dm_control/cartpole-swingup-v0`,
`dm_control/cheetah-run-v0`; `make_env` flattens their dict of state vectors into one Box):

- `gmrl`: configs/worldmodel/default.yaml's agent (v1), only the env and the seed set;
- `gmrl_v2`: configs/worldmodel/v2.yaml's agent (`TDMPCAgent`);
- `sb3`: SB3 SAC with its defaults (`gmrl.bench.peers.sb3_default`);
- `gmrl_v2_state_h8`, `gmrl_v2_state_h15` (on request): v2 with state dynamics planned 8 or 15
  steps ahead; `gmrl_v2_state_h15_full`: the latter with every MPPI iteration run;
  `gmrl_v2_explore`: v2 with the novelty bonus while training (`explore: 1`); `gmrl_v2_mve5`:
  v2 whose TD targets bootstrap 5 imagined steps further (`value_expansion: 5`);
  `gmrl_v2_colored`: colored noise for MPPI's candidates and the seed steps (`noise_beta: 2`);
  `gmrl_v2_colored_explore`: that and the novelty bonus; `gmrl_v2_gamma99`, `gmrl_v2_td5`,
  `gmrl_v2_utd2`: discount 0.99, 5-step TD targets, two updates per real step;
  `gmrl_v2_imitate`, `gmrl_v2_imitate01`: the prior also imitates the actions taken;
  `gmrl_v2_taken`: Q bootstrapped at the action taken (the planner's), not the prior's;
  `gmrl_v2_colored_explore_mve5`: colored noise and the novelty bonus on today's default.

Nothing about a task is written down: reward (and, in v1 and v2, termination) is learned. Every
cell runs its whole budget and is evaluated at 2.5k, 5k, 7.5k, 10k, 25k, 50k and 100k real
steps (5 seeded episodes of 1,000 steps each, deterministic actions), so returns can be placed
beside the published 100k-step returns of TD-MPC2, DreamerV3 and SAC
(`PUBLISHED`, from the result files of the TD-MPC2 repository). The full protocol is 100k
steps per cell; on a 2-core CPU a 10k-step cell of v2 takes about 20 minutes, so runs here
use `--budget`:

    python benchmarks/worldmodel_dmc.py --tasks dm_control/cartpole-swingup-v0 --seeds 2 \\
        --budget 10000 --workers 2
    python benchmarks/worldmodel_dmc.py --report-only --seeds 2 --budget 10000

Cells append to benchmarks/results/worldmodel_dmc.cells.jsonl, the summary (returns per seed
at every evaluation point, beside the published numbers) goes to
benchmarks/results/worldmodel_dmc.json.
"""

import statistics
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from gmrl.bench.grid import AgentSpec, Evaluation, Grid, Task
from gmrl.bench.harness import main as harness_main
from gmrl.bench.summary import latest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # worldmodel_suite, run as a script
    sys.path.insert(0, str(HERE))

from worldmodel_suite import SB3_SPEC, V2_VARIANTS, v1_settings, v2_settings  # noqa: E402

RESULTS = HERE / "results"
POINTS = (2_500, 5_000, 7_500, 10_000, 25_000, 50_000, 100_000)
EVALUATION = Evaluation(episodes=5, every=None, points=POINTS)
BUDGET = 100_000
# published returns at 100k environment steps, per seed (../shared/anchors/dmc_100k.md: the
# result CSVs of the TD-MPC2 repository)
PUBLISHED: dict[str, dict[str, list[float]]] = {
    "dm_control/cartpole-swingup-v0": {"TD-MPC2": [789.8, 867.9, 860.5],
                                       "DreamerV3": [674.4, 637.2, 718.6],
                                       "SAC": [834.3, 844.8, 825.8]},
    "dm_control/cheetah-run-v0": {"TD-MPC2": [613.8, 454.4, 489.2],
                                  "DreamerV3": [386.0, 265.1, 356.1],
                                  "SAC": [362.4, 331.1, 236.9]},
}
# issue 26's targets: cartpole-swingup 800 within 10k steps; cheetah-run above TD-MPC2's 519
TARGETS = {"dm_control/cartpole-swingup-v0": (800.0, 10_000),
           "dm_control/cheetah-run-v0": (519.0, 100_000)}

GRID = Grid(
    name="worldmodel_dmc",
    description="world-model agents v1 and v2 (default configs, everything learned) vs SB3 SAC "
    "on DeepMind Control tasks: returns at 2.5k-100k real steps",
    # no threshold: every cell runs its whole budget (returns at each point are the result)
    tasks=tuple(Task(env, threshold=None) for env in PUBLISHED),
    agents=(
        AgentSpec("gmrl", {"agent": "worldmodel", "config": v1_settings(), "device": "cpu"}),
        AgentSpec("gmrl_v2", {"agent": "tdmpc", "config": v2_settings(), "device": "cpu"}),
        SB3_SPEC,
        # v2 with state dynamics planned 8 or 15 steps ahead (worldmodel_suite.V2_VARIANTS)
        *(AgentSpec(name, {"agent": "tdmpc", "config": v2_settings(V2_VARIANTS[name]),
                           "device": "cpu"})
          for name in ("gmrl_v2_state_h8", "gmrl_v2_state_h15", "gmrl_v2_state_h15_full",
                       "gmrl_v2_explore", "gmrl_v2_mve5", "gmrl_v2_colored",
                       "gmrl_v2_colored_explore", "gmrl_v2_gamma99", "gmrl_v2_td5",
                       "gmrl_v2_utd2", "gmrl_v2_imitate", "gmrl_v2_imitate01", "gmrl_v2_taken",
                       "gmrl_v2_colored_explore_mve5")),
    ),
    seeds=(0, 1, 2),
    budget=BUDGET,
    evaluation=EVALUATION,
)

# 1 seed, cartpole-swingup, 2,500 real steps, one evaluation of 2 episodes: shows it runs
QUICK = replace(GRID, seeds=(0,), tasks=GRID.tasks[:1], budget=2_500,
                evaluation=Evaluation(episodes=2, every=None, points=(2_500,)))


def returns_table(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per task and agent: each seed's mean return at every evaluation point it reached."""
    out: dict[str, Any] = {}
    for task in PUBLISHED:
        mine = [r for r in records if r["task"] == task]
        if not mine:
            continue
        row: dict[str, Any] = {"published_100k": PUBLISHED[task], "target": TARGETS[task]}
        for agent in sorted({r["agent"] for r in mine}):
            cells = sorted((r for r in mine if r["agent"] == agent), key=lambda r: r["seed"])
            row[agent] = {
                "seeds": [r["seed"] for r in cells],
                "budget": max(r["budget"] for r in cells),
                "returns": {str(int(point)): [next((c[1] for c in r["curve"] if c[0] == point),
                                                   None) for r in cells]
                            for point in POINTS if any(c[0] == point for r in cells
                                                       for c in r["curve"])},
                "ms_per_step": [r.get("per_step_ms") or r["ms_per_step"] for r in cells],
            }
            row[agent]["median"] = {point: statistics.median(v for v in values if v is not None)
                                    for point, values in row[agent]["returns"].items()
                                    if any(v is not None for v in values)}
        out[task] = row
    return out


def dmc_report(grid: Grid, out: Path, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The harness `extend` hook: returns per seed at every evaluation point."""
    return {"dmc": returns_table(latest(records, grid))}


def dmc_tables(summary: dict[str, Any]) -> list[str]:
    """The harness `tables` hook (`gmrl.bench.tables.worldmodel_dmc`)."""
    from gmrl.bench.tables import worldmodel_dmc

    return ["", *worldmodel_dmc(summary, "")]


DEFAULT_AGENTS = ("gmrl", "gmrl_v2", "sb3")  # the others on request (--agents)


def main(argv: Sequence[str] | None = None) -> int:
    """The harness's command line (`--agents` defaults to `DEFAULT_AGENTS`)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--agents" not in args:
        args += ["--agents", *DEFAULT_AGENTS]
    return harness_main(GRID, args, quick=QUICK, default_out=RESULTS / "worldmodel_dmc.json",
                        extend=dmc_report, tables=dmc_tables)


if __name__ == "__main__":
    raise SystemExit(main())
