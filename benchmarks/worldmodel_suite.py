"""World-model generalisation suite: one default config on tasks it was never tuned for, vs SB3.

For every task, side by side in one job over the same seeds:
- `gmrl`: the world-model agent with `configs/worldmodel/default.yaml` and only `env.id` (and
  the seed) changed: reward and termination are learned, nothing about the task is written down;
- `sb3`: the model-free peer with SB3's default hyper-parameters, PPO for Discrete actions and
  SAC for Box actions;
- `gmrl_dream` (Box-action tasks in `DREAM_TASKS`): the same default config with `mode=dream`,
  SB3 SAC trained in short imagined rollouts of the learned model (MBPO-style, the default
  16 gradient steps per imagined vector step), acting in the real env without a planner;
- on request, ablations of the default config with one mechanism off, on the tasks it is for:
  `gmrl_no_value` (no terminal value; CartPole, Acrobot), `gmrl_no_explore` (no disagreement
  bonus; MountainCar, MountainCarContinuous), `gmrl_white_noise` (white-noise CEM candidates;
  Pendulum).
Both are evaluated at the same real-step checkpoints (`EVAL_POINTS`, a geometric schedule, so a
long peer run costs few evaluations) on the same 5 seeded evaluation episodes (the planner's mean
plan; SB3's deterministic action). A run stops at the first evaluation at or above the task's
threshold, or at its budget. Seconds are training wall-clock to that evaluation (evaluations
excluded); `plan_ms` is the agent's acting cost per real step (planning, or SB3's forward and
update for the peer, its whole per-step training cost).

Each finished run is appended to benchmarks/results/worldmodel_suite/runs.jsonl (a rerun skips
runs already there); the summary (medians over seeds, "> budget" where a seed never reached the
threshold) goes to benchmarks/results/worldmodel_suite.json.

    gmrl bench worldmodel_suite --seeds 3 --workers 2
    python benchmarks/worldmodel_suite.py --tasks CartPole-v1 MountainCar-v0 --agents gmrl
    python benchmarks/worldmodel_suite.py --agents gmrl_no_value gmrl_no_explore --seeds 3
    python benchmarks/worldmodel_suite.py --quick          # 1 seed, 2 tasks, small budgets
"""

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

# the diagnosis scripts import it from here
from gmrl.rl.rollout import record_episodes as play_episodes  # noqa: F401

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
RUNS_FILE = RESULTS / "worldmodel_suite" / "runs.jsonl"
SUMMARY_FILE = RESULTS / "worldmodel_suite.json"
CONFIG = ROOT / "configs" / "worldmodel" / "default.yaml"
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
AGENTS = ("gmrl", "sb3", "gmrl_dream", "gmrl_no_value", "gmrl_no_explore", "gmrl_white_noise",
          "gmrl_v2")
# the world-model agent v2 (`configs/worldmodel/v2.yaml`, recipe tdmpc) through its public
# API: its own budgets (it learns a value and a policy, which takes more steps to start than v1's
# planner on easy tasks), and it keeps going for AFTER_THRESHOLD evaluations past the threshold
# so a return that falls back is seen
V2_CONFIG = ROOT / "configs" / "worldmodel" / "v2.yaml"
V2_BUDGETS = {
    "CartPole-v1": 5000, "Pendulum-v1": 5000, "InvertedPendulum-v5": 5000,
    "suite_envs:InventoryEnv": 5000, "MountainCar-v0": 10_000, "Acrobot-v1": 5000,
    "MountainCarContinuous-v0": 5000, "Reacher-v5": 20_000, "LunarLander-v3": 50_000,
    "HalfCheetah-v5": 50_000,
}
AFTER_THRESHOLD = 3
DREAM_TASKS = ("Pendulum-v1", "InvertedPendulum-v5")
# ablations of the default config (run on request: --agents gmrl_no_value ...), each the
# default with one mechanism off, on the tasks it is meant for
ABLATIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "gmrl_dream": (("mode=dream",), DREAM_TASKS),
    "gmrl_no_value": (("value.enabled=false",), ("CartPole-v1", "Acrobot-v1")),
    "gmrl_no_explore": (("planner.explore=0",), ("MountainCar-v0", "MountainCarContinuous-v0")),
    "gmrl_white_noise": (("planner.noise_beta=0",), ("Pendulum-v1",)),
}


def eval_seed(seed: int) -> int:
    return 10_000 + seed * 100


def eval_points(budget: int) -> list[int]:
    return [p for p in EVAL_POINTS if p < budget] + [budget]


def _make_env(env_id: str) -> Any:
    import gymnasium as gym

    if ":" in env_id:
        from gmrl.core.imports import import_object

        return gym.wrappers.TimeLimit(import_object(env_id, "env")(), 1000)
    return gym.make(env_id)


# ---------------------------------------------------------------------- the two agents
def default_agent(task: str, seed: int, extra: tuple[str, ...] = ()) -> Any:
    """The default world-model config's agent on `task`, seeded; only env.id and the seed set
    (and `extra` overrides). Also what the ad-hoc diagnosis scripts start from."""
    from gmrl.core.config import load_config
    from gmrl.core.seeding import seed_everything
    from gmrl.recipes import load_recipe
    from gmrl.recipes.worldmodel import build_agent

    config = load_config(
        CONFIG, [f"env.id={task}", f"seed={seed}", "device=cpu", *extra],
        lambda name: load_recipe(name).Config,
    )
    seed_everything(seed)
    return build_agent(config)


def trained_agent(task: str, steps: int, extra: tuple[str, ...] = ()) -> Any:
    """`default_agent(task, 0, extra)` trained for `steps` real steps on one torch thread (how
    the ad-hoc diagnosis scripts start), printing the training time."""
    import torch

    torch.set_num_threads(1)
    agent = default_agent(task, 0, extra)
    start = time.perf_counter()
    agent.train(steps)
    print(f"trained {steps:,} real steps in {time.perf_counter() - start:.0f} s")
    return agent


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


def run_gmrl(
    task: str, seed: int, budget: int, threshold: float, extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The default world-model config on `task` (`default_agent`), evaluated on the schedule."""
    from gmrl.core.device import torch_threads

    record: dict[str, Any] = {"curve": [], "steps": None, "seconds": 0.0}
    with torch_threads(1):
        agent = default_agent(task, seed, extra)
        for point in eval_points(budget):
            start = time.perf_counter()
            agent.train(point - agent.real_steps)
            record["seconds"] += time.perf_counter() - start
            mean_return = agent.evaluate(EVAL_EPISODES, seed=eval_seed(seed))
            record["curve"].append([agent.real_steps, mean_return])
            print(f"  gmrl {task} seed {seed}: {agent.real_steps} steps, return "
                  f"{mean_return:.1f}, {record['seconds']:.0f}s", flush=True)
            if mean_return >= threshold:
                record["steps"] = agent.real_steps
                break
        planned = max(1, agent.real_steps - agent.initial_steps)
        record["plan_ms"] = 1000 * agent.timings["act_s"] / planned
        record["fit_s"] = agent.timings["fit_s"]
        record["policy_s"] = agent.timings["policy_s"]
    return record


def run_gmrl_v2(task: str, seed: int, budget: int, threshold: float) -> dict[str, Any]:
    """The v2 agent with the default config, through the public API only (`TDMPCAgent.learn`,
    `evaluate_agent` on `predict`), as a user or `gmrl run` would."""
    from gmrl.core.config import load_config
    from gmrl.core.device import torch_threads
    from gmrl.recipes import load_recipe
    from gmrl.rl.rollout import evaluate_agent
    from gmrl.worldmodel.tdmpc import TDMPCAgent

    config = load_config(V2_CONFIG, [f"env.id={task}", f"seed={seed}"],
                         lambda name: load_recipe(name).Config)
    record: dict[str, Any] = {"curve": [], "steps": None, "seconds": 0.0, "model": []}
    with torch_threads(1):
        agent = TDMPCAgent(_make_env(task), config.agent, seed=seed, device="cpu")
        after = 0
        for point in eval_points(budget):
            start = time.perf_counter()
            agent.learn(point - agent.num_timesteps)
            record["seconds"] += time.perf_counter() - start
            returns = evaluate_agent(agent, lambda: _make_env(task), episodes=EVAL_EPISODES,
                                     seed=eval_seed(seed))
            mean_return = float(returns.mean())
            record["curve"].append([agent.num_timesteps, mean_return])
            record["model"].append({"step": agent.num_timesteps, **agent.model_metrics()})
            print(f"  gmrl_v2 {task} seed {seed}: {agent.num_timesteps} steps, return "
                  f"{mean_return:.1f}, {record['seconds']:.0f}s", flush=True)
            if record["steps"] is None and mean_return >= threshold:
                record["steps"], record["seconds_to_threshold"] = point, record["seconds"]
            elif record["steps"] is not None:
                after += 1
                if after >= AFTER_THRESHOLD:
                    break
        timings = agent.timings
        record["plan_ms"] = 1000 * timings["act_s"] / max(1, timings["act_steps"])
        record["update_ms"] = 1000 * timings["update_s"] / max(1, timings["update_steps"])
    if record["steps"] is not None:  # seconds to the threshold, as for the other agents
        record["seconds_total"], record["seconds"] = (record["seconds"],
                                                      record["seconds_to_threshold"])
    return record


def run_sb3(task: str, seed: int, budget: int, threshold: float) -> dict[str, Any]:
    """SB3's PPO (Discrete) or SAC (Box) with default hyper-parameters, same evaluations."""
    import stable_baselines3 as sb3
    import torch
    from gymnasium import spaces
    from stable_baselines3.common.callbacks import BaseCallback

    from gmrl.worldmodel.agent import evaluate_policy

    torch.set_num_threads(1)
    env = _make_env(task)
    name = "PPO" if isinstance(env.action_space, spaces.Discrete) else "SAC"
    algo = getattr(sb3, name)("MlpPolicy", env, seed=seed, verbose=0, device="cpu")
    points = eval_points(budget)
    record: dict[str, Any] = {"curve": [], "steps": None, "algo": name}

    class Evaluate(BaseCallback):
        def _on_training_start(self) -> None:
            self.start, self.paused = time.perf_counter(), 0.0

        def _on_step(self) -> bool:
            if self.num_timesteps not in points:
                return True
            pause = time.perf_counter()
            mean_return = evaluate_policy(
                lambda: _make_env(task),
                lambda obs, _: self.model.predict(obs, deterministic=True)[0],
                episodes=EVAL_EPISODES, seed=eval_seed(seed),
            )
            self.paused += time.perf_counter() - pause
            record["seconds"] = time.perf_counter() - self.start - self.paused
            record["curve"].append([self.num_timesteps, mean_return])
            print(f"  {name} {task} seed {seed}: {self.num_timesteps} steps, return "
                  f"{mean_return:.1f}, {record['seconds']:.0f}s", flush=True)
            if mean_return >= threshold:
                record["steps"] = self.num_timesteps
                return False
            return True

    algo.learn(budget, callback=Evaluate())
    record["plan_ms"] = 1000 * record.get("seconds", 0.0) / max(1, record["curve"][-1][0])
    return record


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))  # suite_envs, for "suite_envs:InventoryEnv"
    task, agent, seed = job["task"], job["agent"], job["seed"]
    threshold = TASKS[task]["threshold"]
    start = time.perf_counter()
    if agent == "sb3":
        record = run_sb3(task, seed, job["budget"], threshold)
    elif agent == "gmrl_v2":
        record = run_gmrl_v2(task, seed, job["budget"], threshold)
    else:
        extra = ABLATIONS[agent][0] if agent in ABLATIONS else ()
        record = run_gmrl(task, seed, job["budget"], threshold, extra)
    return {**job, **record, "threshold": threshold, "wall_s": time.perf_counter() - start}


# ---------------------------------------------------------------------- bookkeeping
def make_jobs(
    tasks: list[str], agents: list[str], seeds: int, *, quick: bool = False
) -> list[dict[str, Any]]:
    """One job per task, agent and seed (ablations only on their tasks); `quick`: 1 seed,
    `QUICK_TASKS`, budgets cut to 1,000 (gmrl) and 2,000 (peer) real steps."""
    jobs = []
    for task in QUICK_TASKS if quick else tasks:
        for agent in agents:
            if agent in ABLATIONS and task not in ABLATIONS[agent][1]:
                continue
            budget = (V2_BUDGETS[task] if agent == "gmrl_v2"
                      else TASKS[task]["budget"][0 if agent.startswith("gmrl") else 1])
            if quick:
                budget = min(budget, 1000 if agent.startswith("gmrl") else 2000)
            jobs += [{"task": task, "agent": agent, "seed": s, "budget": budget}
                     for s in range(1 if quick else seeds)]
    return jobs


def _key(job: dict[str, Any]) -> str:
    return f"{job['task']}|{job['agent']}|{job['seed']}|{job['budget']}"


def load_runs(path: Path = RUNS_FILE) -> list[dict[str, Any]]:
    """Recorded runs, the first of each task/agent/seed/budget (two processes may both have
    run one)."""
    if not path.is_file():
        return []
    runs: dict[str, dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            runs.setdefault(_key(record), record)
    return list(runs.values())


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
            if agent == "gmrl_v2":
                row[agent].update(v2_extras(mine))
        if "gmrl" in row and "sb3" in row:
            g, p = row["gmrl"]["steps_median"], row["sb3"]["steps_median"]
            row["speedup"] = None if g is None or p is None else p / g
            if g is not None and p is None:  # the peer's median seed never got there
                row["speedup_at_least"] = row["sb3"]["budget"] / g
        out[task] = row
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--agents", nargs="+", default=["gmrl", "sb3", "gmrl_dream"],
                        choices=AGENTS)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="1 seed, 2 tasks, small budgets")
    parser.add_argument("--report-only", action="store_true", help="summarise recorded runs")
    parser.add_argument("--out", type=Path, default=SUMMARY_FILE)
    args = parser.parse_args(argv)
    # the default summary reads the shared runs file; another --out (quick runs) keeps its own
    runs_file = (RUNS_FILE if args.out == SUMMARY_FILE or args.report_only
                 else args.out.with_suffix(".runs.jsonl"))
    jobs = make_jobs(args.tasks, args.agents, args.seeds, quick=args.quick)
    done = {_key(r) for r in load_runs(runs_file)}
    todo = [] if args.report_only else [j for j in jobs if _key(j) not in done]
    if not args.report_only:
        print(f"{len(todo)} runs to do ({len(jobs) - len(todo)} recorded)", flush=True)
    runs_file.parent.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(max_workers=max(1, args.workers)) as pool:
        futures = [pool.submit(run_job, job) for job in todo]
        for future in as_completed(futures):
            record = future.result()
            with runs_file.open("a") as f:
                f.write(json.dumps(record) + "\n")
            print(f"{record['agent']} {record['task']} seed {record['seed']}: steps "
                  f"{record['steps']} ({record['wall_s']:.0f} s)", flush=True)
    keys = {_key(j) for j in jobs}
    runs = [r for r in load_runs(runs_file) if _key(r) in keys]
    summary = summarise(runs)
    summary["machine"] = (f"{platform.machine()} {platform.processor() or ''}, "
                          f"{len(__import__('os').sched_getaffinity(0))} cores").strip()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    from gmrl.bench.tables import worldmodel_ablations, worldmodel_suite, worldmodel_v2

    print("\n".join(worldmodel_suite(summary, "")))
    if v2 := worldmodel_v2(summary):
        print("\nWorld-model agent v2 beside v1 and the peer:\n")
        print("\n".join(v2))
    if ablations := worldmodel_ablations(summary):
        print("\nAblations (the default config with one mechanism off):\n")
        print("\n".join(ablations))


if __name__ == "__main__":
    main()
