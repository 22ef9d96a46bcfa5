"""The world-model suite's grid (cells, budgets, agents on the harness), its table (medians with
unreached seeds, from harness cells and pre-harness runs) and its custom decision-support env."""

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from gmrl.bench.tables import worldmodel_suite as table

from . import load_benchmark

bench = load_benchmark("worldmodel_suite")


def _run(agent: str, seed: int, steps: int | None, budget: int = 2000) -> dict:
    return {"task": "CartPole-v1", "agent": agent, "seed": seed, "budget": budget,
            "steps": steps, "seconds": 10.0 * (seed + 1), "plan_ms": 5.0,
            "curve": [[250, 100.0], [500, 480.0 if steps else 300.0]],
            **({"algo": "PPO"} if agent == "sb3" else {})}


def test_suite_covers_the_tasks_the_issue_names():
    names = set(bench.TASKS)
    assert len(names) >= 8
    for required in ("MountainCar-v0", "LunarLander-v3", "CartPole-v1", "InvertedPendulum-v5",
                     "Reacher-v5", "HalfCheetah-v5", "suite_envs:InventoryEnv"):
        assert required in names


def test_grid_covers_every_seed_and_dream_only_where_it_applies():
    grid = bench.GRID.select(agents=["gmrl", "sb3", "gmrl_dream"])
    cells = grid.cells()
    assert len(cells) == 3 * (2 * len(bench.TASKS) + len(bench.DREAM_TASKS))
    assert {c.task.label for c in cells if c.agent.name == "gmrl_dream"} == set(bench.DREAM_TASKS)
    budgets = {(c.task.label, c.agent.name): c.budget for c in bench.GRID.cells()}
    assert budgets[("CartPole-v1", "gmrl")] == 2000 and budgets[("CartPole-v1", "sb3")] == 100_000
    assert budgets[("HalfCheetah-v5", "gmrl_v2")] == 50_000
    assert all(c.evaluation.points == bench.EVAL_POINTS and c.evaluation.episodes == 5
               for c in cells)
    v2 = next(c for c in bench.GRID.cells() if c.agent.name == "gmrl_v2")
    assert v2.evaluation.after_threshold == bench.AFTER_THRESHOLD and v2.threads == 1
    quick = bench.QUICK.cells()
    assert {c.seed for c in quick} == {0} and max(c.budget for c in quick) <= 2000
    assert {c.task.label for c in quick} == set(bench.QUICK_TASKS)


def test_the_v1_agents_are_the_default_config_with_only_env_and_seed_set():
    import gmrl
    from gmrl.core.config import read_yaml_mapping

    gmrl_spec = next(a for a in bench.GRID.agents if a.name == "gmrl")
    settings = gmrl_spec.config["config"]
    default = read_yaml_mapping(bench.CONFIG)
    assert settings["model"]["reward"] == default["model"]["reward"] == "learned"
    assert settings["planner"]["horizon"] == default["planner"]["horizon"]
    assert settings["initial_steps"] == default["initial_steps"]
    assert "env" not in settings and "seed" not in settings  # the cell sets both
    assert gmrl.AGENT_CLASSES[gmrl_spec.config["agent"]].endswith(":WorldModelAgent")
    no_value = next(a for a in bench.GRID.agents if a.name == "gmrl_no_value")
    assert no_value.config["config"]["value"]["enabled"] is False
    assert no_value.tasks == ("CartPole-v1", "Acrobot-v1")


def test_median_counts_unreached_seeds_as_beyond_the_budget():
    runs = [_run("gmrl", 0, 500), _run("gmrl", 1, 1000), _run("gmrl", 2, None),
            _run("sb3", 0, 20_000, 100_000), _run("sb3", 1, None, 100_000),
            _run("sb3", 2, None, 100_000)]
    row = bench.summarise(runs)["CartPole-v1"]
    assert row["gmrl"]["steps_median"] == 1000 and row["gmrl"]["reached"] == 2
    assert row["sb3"]["steps_median"] is None  # the median seed never reached it
    assert row["speedup"] is None
    lines = "\n".join(table(bench.summarise(runs), ""))
    assert "| CartPole-v1 | 475 | 1,000 (2/3) | PPO > 100,000 (1/3) |" in lines


def test_speedup_is_the_ratio_of_median_steps():
    runs = [_run("gmrl", s, 500) for s in range(3)] + [_run("sb3", s, 20_000) for s in range(3)]
    assert bench.summarise(runs)["CartPole-v1"]["speedup"] == pytest.approx(40.0)


def test_inventory_env_is_a_valid_env_where_the_classic_heuristic_beats_random():
    env_module = load_benchmark("suite_envs")
    env = env_module.InventoryEnv()
    check_env(env, skip_render_check=True)

    def play(policy) -> float:
        total = 0.0
        for seed in range(5):
            obs, _ = env.reset(seed=seed)
            done = False
            while not done:
                obs, reward, term, trunc, _ = env.step(policy(obs))
                total += float(reward)
                done = term or trunc
        return total / 5

    rng = np.random.default_rng(0)
    heuristic = play(lambda obs: env_module.base_stock_action(obs, 60.0))
    assert heuristic > 25 and heuristic > play(lambda obs: rng.uniform(-1, 1, 1)) + 20


def test_a_run_recorded_twice_counts_once(tmp_path):
    import json

    path = tmp_path / "runs.jsonl"
    lines = [_run("gmrl", 0, 500), _run("gmrl", 0, 750), _run("gmrl", 1, 500)]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    runs = bench.load_runs(path)
    assert len(runs) == 2 and runs[0]["steps"] == 500


def test_a_peer_that_never_gets_there_gives_a_lower_bound_on_the_speedup():
    runs = [_run("gmrl", s, 2000) for s in range(3)] + [
        _run("sb3", s, None, 100_000) for s in range(3)]
    row = bench.summarise(runs)["CartPole-v1"]
    assert row["speedup"] is None and row["speedup_at_least"] == 50
    assert "| > 50x |" in "\n".join(table(bench.summarise(runs), ""))


def test_ablations_sit_beside_the_default_on_their_own_tasks():
    from gmrl.bench.tables import worldmodel_ablations

    assert worldmodel_ablations(bench.summarise([_run("gmrl", 0, 500)])) == []
    cells = bench.GRID.select(agents=["gmrl_no_value", "gmrl_white_noise"], seeds=[0]).cells()
    assert {(c.agent.name, c.task.label) for c in cells} == {
        ("gmrl_no_value", "CartPole-v1"), ("gmrl_no_value", "Acrobot-v1"),
        ("gmrl_white_noise", "Pendulum-v1")}
    runs = [_run("gmrl", s, 500) for s in range(3)] + [
        _run("gmrl_no_value", s, None if s else 1500) for s in range(3)]
    lines = "\n".join(worldmodel_ablations(bench.summarise(runs)))
    assert "| CartPole-v1 | gmrl_no_value | 500 (3/3) | > 2,000 (1/3) |" in lines


def _cell(agent: str, seed: int, reached_at: int | None, **extra) -> dict:
    """A harness cell record (gmrl.bench.cell) of the suite on CartPole."""
    curve = [[250, 100.0, 1.0], [500, 480.0 if reached_at else 300.0, 1.0]]
    return {"key": f"CartPole-v1/{agent}/seed{seed}", "task": "CartPole-v1", "agent": agent,
            "seed": seed, "budget": 2000, "threshold": 475.0, "reached": bool(reached_at),
            "steps_to_threshold": reached_at, "seconds_to_threshold": 7.0 if reached_at else None,
            "train_seconds": 9.0, "ms_per_step": 3.0, "curve": curve, **extra}


def test_harness_cells_become_table_rows_with_their_per_step_costs():
    v2 = _cell("gmrl_v2", 0, 500, per_step_ms={"act": 20.0, "update": 40.0},
               model=[{"step": 500.0, "termination_precision": 1.0, "termination_recall": 0.5,
                       "termination_true": 2.0}])
    peer = _cell("sb3", 0, None, algo="ppo")
    v1 = _cell("gmrl", 0, 500, per_step_ms={"act": 80.0})
    row = bench.summarise([bench.as_run(r) for r in (v2, peer, v1)])["CartPole-v1"]
    assert row["gmrl"]["plan_ms_median"] == 80.0 and row["gmrl"]["seconds_median"] == 7.0
    assert row["sb3"]["algo"] == "PPO" and row["sb3"]["plan_ms_median"] == 3.0
    assert row["sb3"]["steps_median"] is None
    assert row["gmrl_v2"]["update_ms_median"] == 40.0
    assert row["gmrl_v2"]["termination_recall_median"] == 0.5


def test_rows_not_yet_rerun_come_from_the_pre_harness_runs():
    legacy = [_run("gmrl", s, 750) for s in range(3)] + [_run("sb3", s, 20_000, 100_000)
                                                          for s in range(3)]
    runs, rows = bench.merge_legacy([bench.as_run(_cell("gmrl", 0, 500))], legacy)
    assert rows == ["CartPole-v1/sb3"]  # gmrl has a harness cell: its old runs are left out
    assert sorted((r["agent"], r["steps"]) for r in runs) == [
        ("gmrl", 500), ("sb3", 20_000), ("sb3", 20_000), ("sb3", 20_000)]


def test_the_recorded_summary_keeps_every_pre_harness_row():
    import json

    from gmrl.bench.tables import worldmodel_suite as table

    recorded = json.loads(bench.SUMMARY_FILE.read_text())
    assert recorded["suite"]["CartPole-v1"]["gmrl"]["steps_median"] is not None
    lines = "\n".join(table(recorded, ""))
    assert lines.count("\n| ") >= len(bench.TASKS)  # a row per task


def test_play_episodes_records_each_step_of_each_seeded_episode():
    import gymnasium as gym

    fresh_policies = []

    def factory():
        fresh_policies.append(1)
        return lambda obs: 0  # always push left: CartPole ends in ~10 steps

    episodes = bench.play_episodes(lambda: gym.make("CartPole-v1"), factory, [3, 4])
    assert len(episodes) == 2 and len(fresh_policies) == 2  # a fresh policy per episode
    for episode in episodes:
        steps = len(episode["reward"])
        assert 5 < steps < 50 and episode["terminated"][-1] and not episode["terminated"][:-1].any()
        assert episode["obs"].shape == episode["next_obs"].shape == (steps, 4)
        assert len(episode["action"]) == len(episode["infos"]) == steps
        np.testing.assert_array_equal(episode["obs"][1:], episode["next_obs"][:-1])
    again = bench.play_episodes(lambda: gym.make("CartPole-v1"), factory, [3])
    np.testing.assert_array_equal(again[0]["obs"], episodes[0]["obs"])  # seeded resets


def test_fell_back_needs_more_than_two_low_evaluations_after_reaching():
    curve = [[250, -900.0], [500, -190.0], [750, -400.0], [1000, -450.0], [1500, -180.0]]
    assert bench.fell_back(curve, -200.0) is False  # two low evaluations, then back
    assert bench.fell_back([*curve[:4], [1500, -500.0]], -200.0) is True
    assert bench.fell_back([[250, -900.0]], -200.0) is None  # never reached


def test_v2_rows_sit_beside_v1_and_the_peer():
    from gmrl.bench.tables import worldmodel_v2

    v2 = {**_run("gmrl_v2", 0, 500, budget=5000), "update_ms": 30.0, "threshold": 475.0,
          "model": [{"termination_precision": 0.9, "termination_recall": 0.5,
                     "termination_true": 4.0}]}
    summary = bench.summarise([v2, _run("gmrl", 0, 500), _run("sb3", 0, None, 100_000)])
    cell = summary["CartPole-v1"]["gmrl_v2"]
    assert cell["fell_back"] == [False] and cell["termination_recall_median"] == 0.5
    rows = worldmodel_v2(summary)
    assert "500 (budget 5,000)" in rows[2] and "- (budget 100,000)" in rows[2]
    assert worldmodel_v2(bench.summarise([_run("gmrl", 0, 500)])) == []
