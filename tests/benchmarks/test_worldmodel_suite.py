"""The world-model suite's bookkeeping (jobs, medians with unreached seeds, table) and its
custom decision-support env."""

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


def test_jobs_cover_every_seed_and_dream_only_where_it_applies():
    jobs = bench.make_jobs(list(bench.TASKS), ["gmrl", "sb3", "gmrl_dream"], 3)
    assert len(jobs) == 3 * (2 * len(bench.TASKS) + len(bench.DREAM_TASKS))
    assert {j["task"] for j in jobs if j["agent"] == "gmrl_dream"} == set(bench.DREAM_TASKS)
    quick = bench.make_jobs(list(bench.TASKS), ["gmrl", "sb3"], 3, quick=True)
    assert {j["seed"] for j in quick} == {0} and max(j["budget"] for j in quick) <= 2000


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
    jobs = bench.make_jobs(list(bench.TASKS), ["gmrl_no_value", "gmrl_white_noise"], 1)
    assert {(j["agent"], j["task"]) for j in jobs} == {
        ("gmrl_no_value", "CartPole-v1"), ("gmrl_no_value", "Acrobot-v1"),
        ("gmrl_white_noise", "Pendulum-v1")}
    runs = [_run("gmrl", s, 500) for s in range(3)] + [
        _run("gmrl_no_value", s, None if s else 1500) for s in range(3)]
    lines = "\n".join(worldmodel_ablations(bench.summarise(runs)))
    assert "| CartPole-v1 | gmrl_no_value | 500 (3/3) | > 2,000 (1/3) |" in lines


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
