"""World-model generalisation suite: one default config on tasks it was never tuned for, vs SB3.

A grid on the benchmark harness (`gmrl.bench.harness`): for every task, over the same seeds,
each agent built by `gmrl.make_agent` (or `gmrl.bench.peers`) learns with one `learn(budget)`
call and is evaluated with `gmrl.rl.rollout.evaluate_agent` (5 deterministic episodes, the same
start states for every agent of a seed) at the real-step checkpoints `EVAL_POINTS` (a geometric
schedule, so a long peer run costs few evaluations); a cell stops at the first evaluation at or
above the task's threshold, or at its budget. Agents:
- `gmrl`: the v1 world-model agent (`WorldModelAgent`) with configs/worldmodel/default.yaml and
  only the env and the seed set: reward and termination are learned, nothing about the task is
  written down;
- `sb3`: the model-free peer with SB3's default hyper-parameters, PPO for Discrete actions and
  SAC for Box actions (`gmrl.bench.peers.sb3_default`);
- `gmrl_dream` (Box-action tasks in `DREAM_TASKS`): the default config with `mode=dream`, SB3
  SAC trained in short imagined rollouts of the learned model (MBPO-style);
- `gmrl_v2`: the v2 agent (`TDMPCAgent`, configs/worldmodel/v2.yaml's agent section) with its
  own budgets, going on for `AFTER_THRESHOLD` evaluations past the threshold so a return that
  falls back is seen; on request, v2 with one setting changed (`V2_VARIANTS`), e.g.
  `gmrl_v2_full_search` (`prior_stop` off: every MPPI iteration runs), `gmrl_v2_latent` (the
  earlier default: TD-MPC2's learned latent planned 3 steps ahead), `gmrl_v2_state` (state
  dynamics planned 3 steps ahead), `gmrl_v2_no_absorbing`, `gmrl_v2_explore` (the novelty
  bonus while training, `explore: 1`), `gmrl_v2_mve5` (TD targets bootstrapped 5 imagined
  steps further, `value_expansion: 5`), `gmrl_v2_colored` (colored noise for Box candidates and
  seed steps, `noise_beta: 2`), `gmrl_v2_colored_explore` (that and the novelty bonus),
  `gmrl_v2_gamma99` (discount 0.99), `gmrl_v2_td5` (5-step TD targets), `gmrl_v2_utd2` (two
  updates per real step), `gmrl_v2_imitate` and `gmrl_v2_imitate01` (the prior also imitates
  the actions taken, `prior_imitation` 1 and 0.1), `gmrl_v2_taken` (Q bootstrapped at the
  action taken, `bootstrap_action: taken`), `gmrl_v2_colored_explore_mve5` (colored noise and
  the novelty bonus on the value-expansion default), `gmrl_v2_td50` (that with 50-step TD
  targets), `gmrl_v2_bound50` (the default's targets bounded from below by the 50-step return
  collected, `return_bound: 50`), `gmrl_v2_bound50_exact` (only by those that ended in a
  termination);
- on request, ablations of the default config with one mechanism off, on the tasks it is for:
  `gmrl_no_value` (CartPole, Acrobot), `gmrl_no_explore` (MountainCar, MountainCarContinuous),
  `gmrl_white_noise` (Pendulum).
Seconds are training wall-clock to the threshold (evaluations excluded); `plan_ms` is an agent's
acting cost per real step where it reports one (`timings`: the world-model agents' planning and
env step; v2's update cost beside it), else its whole training cost per step (the peer). Cells
run one torch thread each, serially (`--workers 1`) or on Ray.

Each finished cell is appended to benchmarks/results/worldmodel_suite.cells.jsonl (a rerun skips
it); the summary goes to benchmarks/results/worldmodel_suite.json: the harness's, plus `suite`,
the table rows (medians over seeds, "> budget" where a seed never reached the threshold). Rows
of a task and agent with no harness cell yet come from the pre-harness runs in
benchmarks/results/worldmodel_suite/runs.jsonl (listed under `suite_legacy_rows`), so the docs'
tables keep them until the suite is rerun here.

    gmrl bench worldmodel_suite --seeds 3 --workers 2
    python benchmarks/worldmodel_suite.py --tasks CartPole-v1 MountainCar-v0 --agents gmrl
    python benchmarks/worldmodel_suite.py --agents gmrl_no_value gmrl_no_explore --seeds 3
    python benchmarks/worldmodel_suite.py --agents gmrl_v2 --seeds 3 --ray-address auto
    python benchmarks/worldmodel_suite.py --quick --workers 1 --out /tmp/wm/suite.json
    python benchmarks/worldmodel_suite.py --report-only      # rewrite the summary, run nothing
"""

import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from gmrl.bench.grid import AgentSpec, Cell, Evaluation, Grid, Task
from gmrl.bench.harness import main as harness_main
from gmrl.bench.summary import latest

# the diagnosis scripts import it from here
from gmrl.rl.rollout import record_episodes as play_episodes  # noqa: F401

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
RUNS_FILE = RESULTS / "worldmodel_suite" / "runs.jsonl"  # pre-harness runs (read, not written)
SUMMARY_FILE = RESULTS / "worldmodel_suite.json"
CONFIG = ROOT / "configs" / "worldmodel" / "default.yaml"
V2_CONFIG = ROOT / "configs" / "worldmodel" / "v2.yaml"
EVAL_EPISODES = 5
EVAL_POINTS = (
    250, 500, 750, 1000, 1500, 2000, 3000, 4000, 5000, 6000, 8000, 10_000, 12_000, 16_000,
    20_000, 25_000, 30_000, 40_000, 50_000, 65_000, 80_000, 100_000,
)

# threshold: Gymnasium's reward_threshold where the env declares one, else stated beside it.
# budgets: real env steps per run for gmrl and the peer (the peer's is larger: it needs more;
# SAC's on MountainCarContinuous, Reacher and HalfCheetah is 10k, what 2 CPU cores allowed for
# 3 seeds in one session: a peer that misses there is reported as "> 10,000", a lower bound).
TASKS: dict[str, dict[str, Any]] = {
    "CartPole-v1": {"threshold": 475.0, "source": "gymnasium", "budget": (2000, 100_000)},
    "Pendulum-v1": {"threshold": -200.0, "source": "ours (PETS-style)", "budget": (2000, 20_000)},
    "InvertedPendulum-v5": {"threshold": 950.0, "source": "gymnasium", "budget": (2000, 20_000)},
    "suite_envs:InventoryEnv": {"threshold": 32.0,
                                "source": "ours: the best base-stock policy gets 32.6",
                                "budget": (2000, 20_000)},
    "MountainCar-v0": {"threshold": -110.0, "source": "gymnasium", "budget": (3000, 100_000)},
    "Acrobot-v1": {"threshold": -100.0, "source": "gymnasium", "budget": (2000, 100_000)},
    "MountainCarContinuous-v0": {"threshold": 90.0, "source": "gymnasium",
                                 "budget": (3000, 10_000)},
    "Reacher-v5": {"threshold": -3.75, "source": "gymnasium", "budget": (2000, 10_000)},
    "LunarLander-v3": {"threshold": 200.0, "source": "gymnasium", "budget": (3000, 100_000)},
    "HalfCheetah-v5": {"threshold": 3000.0, "source": "issue 10's target",
                       "budget": (3000, 10_000)},
}
QUICK_TASKS = ("CartPole-v1", "Pendulum-v1")
DEFAULT_AGENTS = ("gmrl", "sb3", "gmrl_dream")  # the others on request (--agents)
V2_BUDGETS = {
    "CartPole-v1": 5000, "Pendulum-v1": 5000, "InvertedPendulum-v5": 5000,
    "suite_envs:InventoryEnv": 5000, "MountainCar-v0": 10_000, "Acrobot-v1": 5000,
    "MountainCarContinuous-v0": 5000, "Reacher-v5": 20_000, "LunarLander-v3": 50_000,
    "HalfCheetah-v5": 50_000,
}
AFTER_THRESHOLD = 3
# v2 variants measured before value expansion became the default (commit ee9b04f): their
# settings keep `value_expansion: 0` so their recorded cells stay theirs
_EARLIER_VARIANTS: dict[str, dict[str, Any]] = {
    "gmrl_v2_full_search": {"prior_stop": None},  # every MPPI iteration runs
    "gmrl_v2_plan_h1": {"plan_horizon": 1},  # plan one imagined step, then Q
    # terminal states trained as absorbing (the default since this A/B; its cells were run
    # when the default was off, beside gmrl_v2 with absorbing off)
    "gmrl_v2_absorbing": {"absorbing": True},
    "gmrl_v2_no_absorbing": {"absorbing": False},  # the earlier default
    # the earlier default (until this A/B): TD-MPC2's learned latent, planned 3 steps ahead
    "gmrl_v2_latent": {"dynamics": "latent", "plan_horizon": None},
    # state dynamics (the latent is the standardised observation, no encoder), planned 3, 8 (the
    # default from this A/B until value expansion) or 15 steps ahead
    "gmrl_v2_state": {"dynamics": "state", "plan_horizon": None},
    "gmrl_v2_state_h8": {"dynamics": "state", "plan_horizon": 8},
    "gmrl_v2_state_h15": {"dynamics": "state", "plan_horizon": 15},
    # ... and every MPPI iteration run (no early stop on the policy prior)
    "gmrl_v2_state_h15_full": {"dynamics": "state", "plan_horizon": 15, "prior_stop": None},
    # the novelty bonus while training (ensemble disagreement of one-step predictors, v1's rule)
    "gmrl_v2_explore": {"explore": 1.0},
    # colored noise (iCEM, v1's noise_beta): MPPI's Box candidates and the random seed steps
    "gmrl_v2_colored": {"noise_beta": 2.0},
    # ... with the novelty bonus while training too (v1's two exploration mechanisms)
    "gmrl_v2_colored_explore": {"noise_beta": 2.0, "explore": 1.0},
    # how fast value spreads: a shorter discount horizon (0.99, v1's), 5 real rewards in every
    # TD target, two updates per real step
    "gmrl_v2_gamma99": {"discount": 0.99},
    "gmrl_v2_td5": {"td_steps": 5},
    "gmrl_v2_utd2": {"updates_per_step": 2.0},
    # the earlier default, run until a reach holds (below), beside gmrl_v2_explore
    "gmrl_v2_until_held": {},
}
# v2 variants measured with value expansion and without exploration (the default): white noise
# and no novelty bonus are written out, so their recorded cells stay theirs whatever the default
_WHITE_VARIANTS: dict[str, dict[str, Any]] = {
    # model-based value expansion: every TD target bootstraps 5 imagined policy steps further
    # (the default since its 5-seed suite; its cells keep this name)
    "gmrl_v2_mve5": {"value_expansion": 5},
    # the policy prior also imitates the actions taken (the planner's): weight 1 and 0.1
    "gmrl_v2_imitate": {"prior_imitation": 1.0},
    "gmrl_v2_imitate01": {"prior_imitation": 0.1},
    # Q bootstrapped at the action the agent took (the planner's), so it values the agent's
    # own behaviour rather than the prior's
    "gmrl_v2_taken": {"bootstrap_action": "taken"},
    # every TD target bounded from below by the 50-step return collected (optimality
    # tightening): a rare large reward reaches the value without 50-step targets everywhere
    "gmrl_v2_bound50": {"return_bound": 50},
    # ... only by the 50-step returns that ended in a termination (exact, no bootstrap)
    "gmrl_v2_bound50_exact": {"return_bound": 50, "return_bound_kind": "exact"},
}
# v2 with one setting changed (on request): what each choice of the default costs or saves
V2_VARIANTS: dict[str, dict[str, Any]] = {
    **{name: {"value_expansion": 0, "noise_beta": 0.0, "explore": 0.0, **change}
       for name, change in _EARLIER_VARIANTS.items()},
    **{name: {"noise_beta": 0.0, "explore": 0.0, **change}
       for name, change in _WHITE_VARIANTS.items()},
    # v1's two exploration mechanisms (colored noise, the novelty bonus) on value expansion
    "gmrl_v2_colored_explore_mve5": {"noise_beta": 2.0, "explore": 1.0},
    # ... with 50 real rewards in every TD target (Monte-Carlo-like): the value learns a rare
    # large reward (MountainCarContinuous's flag) that 3-step targets do not carry back
    "gmrl_v2_td50": {"noise_beta": 2.0, "explore": 1.0, "td_steps": 50},
}
# every agent of the grid, in the summary's order
AGENTS = ("gmrl", "sb3", "gmrl_dream", "gmrl_no_value", "gmrl_no_explore", "gmrl_white_noise",
          "gmrl_v2", *V2_VARIANTS)
# v2 agents whose cells learn on past a reach that falls back, until one holds for
# AFTER_THRESHOLD evaluations (`Evaluation.until_held`; `steps_to_held` in their rows)
UNTIL_HELD = ("gmrl_v2_explore", "gmrl_v2_until_held")
DREAM_TASKS = ("Pendulum-v1", "InvertedPendulum-v5")
# the default config with one mechanism off (overrides), on the tasks it is meant for
ABLATIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "gmrl_dream": (("mode=dream",), DREAM_TASKS),
    "gmrl_no_value": (("value.enabled=false",), ("CartPole-v1", "Acrobot-v1")),
    "gmrl_no_explore": (("planner.explore=0",), ("MountainCar-v0", "MountainCarContinuous-v0")),
    "gmrl_white_noise": (("planner.noise_beta=0",), ("Pendulum-v1",)),
}
EVALUATION = Evaluation(episodes=EVAL_EPISODES, every=None, points=EVAL_POINTS)

if str(HERE) not in sys.path:  # suite_envs, for "suite_envs:InventoryEnv"
    sys.path.insert(0, str(HERE))


def evaluation_seeds(seed: int, episodes: int) -> list[int]:
    """The reset seeds of a suite cell's evaluation episodes for `seed` (`gmrl.bench.cell`):
    the diagnosis scripts replay the start states the suite evaluates on."""
    from gmrl.core.seeding import derive_seed
    from gmrl.rl.rollout import episode_seeds

    return episode_seeds(derive_seed(seed, "eval_env"), episodes)


# ---------------------------------------------------------------------- the grid
def _recipe_config(path: Path, overrides: Sequence[str]) -> Any:
    from gmrl.core.config import load_config
    from gmrl.recipes import load_recipe

    return load_config(path, list(overrides), lambda name: load_recipe(name).Config)


def v1_settings(extra: Sequence[str] = ()) -> dict[str, Any]:
    """The agent keys of configs/worldmodel/default.yaml (with `extra` overrides), as JSON."""
    from gmrl.worldmodel.contract import WorldModelConfig

    config = _recipe_config(CONFIG, extra)
    return config.model_dump(mode="json", include=set(WorldModelConfig.model_fields))


def v2_settings(change: dict[str, Any] | None = None) -> dict[str, Any]:
    """configs/worldmodel/v2.yaml's agent section with `change`, as JSON: a cell's settings.

    Every key is written out, so a recorded cell says what it ran. (Until the default became
    state dynamics, `dynamics: latent` was left out of cells; those records are kept as they
    are, under the settings of their time.)"""
    return {**_v2_defaults(), **(change or {})}


@cache
def _v2_defaults() -> dict[str, Any]:
    """v2.yaml's agent section as JSON, read once (every v2 agent of the grids starts from it)."""
    return _recipe_config(V2_CONFIG, ()).agent.model_dump(mode="json")


def _v1_spec(name: str, extra: Sequence[str] = (), tasks: tuple[str, ...] = ()) -> AgentSpec:
    return AgentSpec(name, {"agent": "worldmodel", "config": v1_settings(extra),
                            "device": "cpu"}, tasks=tasks)


SB3_SPEC = AgentSpec("sb3", {}, make="gmrl.bench.peers:sb3_default")


def _task(env: str, spec: dict[str, Any]) -> Task:
    gmrl_budget, peer_budget = spec["budget"]
    budgets = {"gmrl": gmrl_budget, "sb3": peer_budget, "gmrl_v2": V2_BUDGETS[env],
               **dict.fromkeys(V2_VARIANTS, V2_BUDGETS[env]),
               **{name: gmrl_budget for name in ABLATIONS}}
    return Task(env, threshold=spec["threshold"], budgets=budgets)


GRID = Grid(
    name="worldmodel_suite",
    description="gmrl's default world-model config (everything learned) vs SB3 PPO/SAC on 10 "
    "tasks it was not tuned on: real env steps to threshold",
    tasks=tuple(_task(env, spec) for env, spec in TASKS.items()),
    agents=(
        _v1_spec("gmrl"), SB3_SPEC,
        *(_v1_spec(name, extra, tasks) for name, (extra, tasks) in ABLATIONS.items()),
        AgentSpec("gmrl_v2", {"agent": "tdmpc", "config": v2_settings(), "device": "cpu"},
                  evaluation=replace(EVALUATION, after_threshold=AFTER_THRESHOLD)),
        *(AgentSpec(name, {"agent": "tdmpc", "config": v2_settings(change),
                           "device": "cpu"},
                    evaluation=replace(EVALUATION, after_threshold=AFTER_THRESHOLD,
                                       until_held=name in UNTIL_HELD))
          for name, change in V2_VARIANTS.items()),
    ),
    seeds=(0, 1, 2),
    budget=2000,
    evaluation=EVALUATION,
)
# 1 seed, 2 tasks, budgets cut to 1,000 (world-model agents) and 2,000 (the peer) real steps
QUICK = replace(
    GRID, seeds=(0,),
    tasks=tuple(replace(t, budgets={name: min(b, 2000 if name == "sb3" else 1000)
                                    for name, b in t.budgets.items()})
                for t in GRID.tasks if t.label in QUICK_TASKS))


# ---------------------------------------------------------------------- diagnosis helpers
def default_agent(task: str, seed: int, extra: tuple[str, ...] = ()) -> Any:
    """The default world-model config's `ModelBasedAgent` on `task`, seeded; only env.id and the
    seed set (and `extra` overrides): what the diagnosis scripts start from."""
    from gmrl.core.seeding import seed_everything
    from gmrl.recipes.worldmodel import build_agent

    config = _recipe_config(CONFIG, [f"env.id={task}", f"seed={seed}", "device=cpu", *extra])
    seed_everything(seed)
    return build_agent(config)


def trained_agent(task: str, steps: int, extra: tuple[str, ...] = ()) -> Any:
    """`default_agent(task, 0, extra)` trained for `steps` real steps on one torch thread (how
    the diagnosis scripts start), printing the training time."""
    import torch

    torch.set_num_threads(1)
    agent = default_agent(task, 0, extra)
    start = time.perf_counter()
    agent.train(steps)
    print(f"trained {steps:,} real steps in {time.perf_counter() - start:.0f} s")
    return agent


def run_sb3(task: str, seed: int, budget: int, threshold: float) -> dict[str, Any]:
    """One harness cell of the SB3 peer on `task`, as a run record (`as_run`)."""
    from gmrl.bench.cell import run_cell

    return as_run(run_cell(Cell(GRID.name, Task(task, threshold), SB3_SPEC, seed, budget,
                                EVALUATION)))


def planner_policy(
    agent: Any, *, terminal_value: bool = True, **changes: Any
) -> Callable[[], Callable[[np.ndarray], Any]]:
    """A factory of fresh planners over `agent`'s model with `changes` to its CEM settings (and
    without the terminal value if `terminal_value` is false), each acting greedily on one
    observation: what the ad-hoc diagnosis scripts compare on one trained model."""
    config = agent.config.model_copy(
        update={"planner": agent.config.planner.model_copy(update=changes)}
    )

    def fresh() -> Callable[[np.ndarray], Any]:
        original, agent.config = agent.config, config
        try:
            planner = agent._make_planner(agent.env)
        finally:
            agent.config = original
        if not terminal_value:
            planner.terminal_value = None
        return lambda obs: np.asarray(agent.act(obs[None], explore=False, planner=planner))[0]

    return fresh


def report_learned_reward(agent: Any, episodes: list[dict[str, Any]], label: str) -> None:
    """Print the learned reward's error and correlation against the true one on the steps of
    `episodes` (from `play_episodes`): is the model's reward what the planner optimises well?"""
    import torch

    obs = torch.tensor(np.concatenate([e["obs"] for e in episodes]), dtype=torch.float32)
    action = torch.tensor(np.concatenate([e["action"] for e in episodes]), dtype=torch.float32)
    reward = np.concatenate([e["reward"] for e in episodes])
    with torch.no_grad():
        _, predicted, _ = agent.model.predict_members(obs, action, sample=False)
    predicted = predicted.mean(0).numpy().reshape(-1)
    print(f"learned reward on {label}: MAE {np.abs(predicted - reward).mean():.4f} (true mean "
          f"{reward.mean():.4f}, std {reward.std():.4f}), correlation "
          f"{np.corrcoef(predicted, reward)[0, 1]:.3f}")


def fell_back(curve: list[list[float]], threshold: float) -> bool | None:
    """After first reaching `threshold`: did the return sit more than 20 % of its best below
    that best for more than two consecutive evaluations? None when never reached."""
    returns = [r for _, r in curve]
    first = next((i for i, r in enumerate(returns) if r >= threshold), None)
    if first is None:
        return None
    best, run = returns[first], 0
    for value in returns[first:]:
        best = max(best, value)
        run = run + 1 if value < best - 0.2 * abs(best) else 0
        if run > 2:
            return True
    return False


def v2_extras(mine: list[dict[str, Any]]) -> dict[str, Any]:
    """The v2 agent's extra columns: per-step costs, falling back, termination metrics."""
    def median(values: list[float]) -> float | None:
        values = [v for v in values if v == v]  # NaN: undefined (e.g. no termination)
        return statistics.median(values) if values else None

    last = [r["model"][-1] for r in mine if r.get("model")]
    return {
        "update_ms_median": median([r["update_ms"] for r in mine]),
        "fell_back": [fell_back(r["curve"], r["threshold"]) for r in mine],
        "final_returns": [r["curve"][-1][1] for r in mine],
        # the first reach that held (`until_held` agents only): None where none did
        **({"steps_to_held": [r["steps_to_held"] for r in mine]}
           if all("steps_to_held" in r for r in mine) else {}),
        "termination_precision_median": median([m["termination_precision"] for m in last]),
        "termination_recall_median": median([m["termination_recall"] for m in last]),
        "termination_true": sum(m["termination_true"] for m in last
                                if m["termination_true"] == m["termination_true"]),
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per task and agent: seeds reached, median steps (None-aware) and seconds, plan ms."""
    out: dict[str, Any] = {}
    for task, spec in TASKS.items():
        row: dict[str, Any] = {"threshold": spec["threshold"], "source": spec["source"]}
        for agent in AGENTS:
            mine = [r for r in runs if r["task"] == task and r["agent"] == agent]
            if not mine:
                continue
            budget = max(r["budget"] for r in mine)
            # a seed that never reached counts as "more than its budget": the median is then
            # a lower bound, written "> budget" when it falls on such a seed
            steps = sorted(r["steps"] if r["steps"] is not None else float("inf") for r in mine)
            median = statistics.median(steps) if steps else None
            row[agent] = {
                "seeds": len(mine),
                "reached": sum(r["steps"] is not None for r in mine),
                "budget": budget,
                "steps": [r["steps"] for r in mine],
                "steps_median": None if median in (None, float("inf")) else median,
                "seconds_median": statistics.median(
                    [r["seconds"] for r in mine if r["steps"] is not None] or [float("nan")]
                ),
                "best_return_median": statistics.median(max(c[1] for c in r["curve"])
                                                        for r in mine),
                "plan_ms_median": statistics.median(r["plan_ms"] for r in mine),
                **({"algo": mine[0]["algo"]} if "algo" in mine[0] else {}),
            }
            if agent.startswith("gmrl_v2"):
                row[agent].update(v2_extras(mine))
        if "gmrl" in row and "sb3" in row:
            g, p = row["gmrl"]["steps_median"], row["sb3"]["steps_median"]
            row["speedup"] = None if g is None or p is None else p / g
            if g is not None and p is None:  # the peer's median seed never got there
                row["speedup_at_least"] = row["sb3"]["budget"] / g
        out[task] = row
    return out


# ---------------------------------------------------------------------- the suite's table
def as_run(record: dict[str, Any]) -> dict[str, Any]:
    """A harness cell record as a run of the suite's table (the pre-harness runs' fields)."""
    per_step = record.get("per_step_ms", {})
    reached = record["reached"]
    run = {
        "task": record["task"], "agent": record["agent"], "seed": record["seed"],
        "budget": record["budget"], "threshold": record["threshold"],
        "steps": record["steps_to_threshold"] if reached else None,
        "seconds": record["seconds_to_threshold"] if reached else record["train_seconds"],
        "curve": [[point[0], point[1]] for point in record["curve"]],
        "plan_ms": per_step.get("act", record["ms_per_step"]),
        "update_ms": per_step.get("update", math.nan), "model": record.get("model", []),
    }
    if record.get("algo"):
        run["algo"] = str(record["algo"]).upper()
    return run


def _key(run: dict[str, Any]) -> str:
    return f"{run['task']}|{run['agent']}|{run['seed']}|{run['budget']}"


def load_runs(path: Path = RUNS_FILE) -> list[dict[str, Any]]:
    """Pre-harness runs, the first of each task/agent/seed/budget (two processes may both have
    run one)."""
    if not path.is_file():
        return []
    runs: dict[str, dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            runs.setdefault(_key(record), record)
    return list(runs.values())


def merge_legacy(runs: list[dict[str, Any]], legacy: list[dict[str, Any]]
                 ) -> tuple[list[dict[str, Any]], list[str]]:
    """`runs` plus the pre-harness runs of the full grid's cells for every task and agent that
    has no harness run yet; and those rows' names ("task/agent")."""
    wanted = {_key({"task": c.task.label, "agent": c.agent.name, "seed": c.seed,
                    "budget": c.budget}) for c in GRID.cells()}
    have = {(r["task"], r["agent"]) for r in runs}
    old = [r for r in legacy if _key(r) in wanted and (r["task"], r["agent"]) not in have]
    return runs + old, sorted({f"{r['task']}/{r['agent']}" for r in old})


def suite_report(grid: Grid, out: Path, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The harness `extend` hook: the suite's table rows (`suite`) from this grid's cells; for
    the default results file also every full-grid cell recorded before and the pre-harness runs
    of rows not yet rerun on the harness (`suite_legacy_rows`)."""
    current = latest(records, grid)
    runs = [as_run(r) for r in current]
    legacy_rows: list[str] = []
    if out.resolve() == SUMMARY_FILE.resolve():
        seen = {r["key"] for r in current}
        runs += [as_run(r) for r in latest(records, GRID) if r["key"] not in seen]
        runs, legacy_rows = merge_legacy(runs, load_runs())
    return {"suite": summarise(runs), "suite_legacy_rows": legacy_rows}


def suite_tables(summary: dict[str, Any]) -> list[str]:
    """The harness `tables` hook: the suite's table, v2 beside v1 and the peer, ablations."""
    from gmrl.bench.tables import worldmodel_ablations, worldmodel_suite, worldmodel_v2

    lines = ["", *worldmodel_suite(summary, "")]
    if v2 := worldmodel_v2(summary):
        lines += ["", "World-model agent v2 beside v1 and the peer:", "", *v2]
    if ablations := worldmodel_ablations(summary):
        lines += ["", "Ablations (the default config with one mechanism off):", "", *ablations]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """The harness's command line (`--agents` defaults to `DEFAULT_AGENTS`)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--agents" not in args:
        args += ["--agents", *DEFAULT_AGENTS]
    # Ray workers import suite_envs too (a local Ray's workers inherit this environment)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p)
    return harness_main(GRID, args, quick=QUICK, default_out=SUMMARY_FILE, extend=suite_report,
                        tables=suite_tables)


if __name__ == "__main__":
    raise SystemExit(main())
