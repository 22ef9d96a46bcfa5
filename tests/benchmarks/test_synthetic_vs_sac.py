"""The synthetic-experience benchmark's report logic: thresholds, budgets, medians, table."""

import json

from gmrl.bench.tables import synthetic_markdown

from . import load_benchmark

bench = load_benchmark("synthetic_vs_sac")


def _run(variant: str, seed: int, curve: list[list[float]], generator_seconds: float = 0.0):
    return {"env": "Pendulum-v1", "variant": variant, "seed": seed, "curve": curve,
            "seconds": 100.0, "generator_seconds": generator_seconds,
            "summary": {"synthetic_classifier_accuracy": 0.6}}


def test_steps_to_threshold_is_the_first_evaluation_reaching_it():
    curve = [[250, -900.0], [500, -190.0], [750, -400.0], [1000, -150.0]]
    assert bench.steps_to(curve, -200.0) == 500
    assert bench.steps_to(curve, -100.0) is None
    assert bench.return_at(curve, 1000) == -150.0 and bench.return_at(curve, 2000) is None


def test_summary_counts_seeds_that_never_reach_and_reports_medians():
    runs = [
        _run("sac_synthetic", 0, [[1000, -150.0], [2000, -140.0]], generator_seconds=10.0),
        _run("sac_synthetic", 1, [[1000, -300.0], [2000, -180.0]], generator_seconds=20.0),
        _run("sac_synthetic", 2, [[1000, -900.0], [2000, -800.0]], generator_seconds=30.0),
    ]
    row = bench.summarise(runs)["Pendulum-v1"]["sac_synthetic"]
    assert row["seeds"] == 3 and row["seeds_reached"] == 2
    assert row["steps_to_threshold"] == {"median": 1500.0, "range": [1000.0, 2000.0], "n": 2}
    assert row["return_at_1000"]["median"] == -300.0
    assert row["generator_share_of_time"]["median"] == 0.2
    table = "\n".join(synthetic_markdown(bench.summarise(runs)))
    assert row["steps_to_threshold_all_seeds_median"] == 2000.0  # 1000, 2000, never
    assert "| sac_synthetic | 2/3 | 2000 | 1500 [1000, 2000] |" in table
    assert "**Pendulum-v1** (threshold -200)" in table


def test_every_variant_of_every_seed_is_a_cell():
    cells = bench.GRID.select(seeds=range(2)).cells()
    names = {c.variant.name for c in cells}
    assert {"Pendulum-v1/dream", "InvertedPendulum-v5/dream"} <= names
    # Pendulum: 6 SAC rows + 3 TD3; InvertedPendulum: 6; CartPole: the dqn pair + zoo DQN
    assert len(cells) == 2 * (6 + 3) + 2 * 6 + 2 * 3
    # TD3 and DQN take the synthetic configs unchanged but for the algorithm
    td3 = next(c for c in cells if c.variant.name == "Pendulum-v1/td3_synthetic")
    assert td3.variant.settings["config"] == "configs/synthetic/pendulum.yaml"
    assert "algo=td3" in td3.variant.settings["overrides"]
    td3_utd = next(c for c in cells if c.variant.name == "Pendulum-v1/td3_utd")
    assert td3_utd.variant.settings["recipe"] == "synthetic"
    assert {"algo=td3", "synthetic.ratio=0"} <= set(td3_utd.variant.settings["overrides"])
    dqn = next(c for c in cells if c.variant.name == "CartPole-v1/dqn")
    assert {"algo=dqn", "params.train_freq=1", "params.gradient_steps=1"} <= set(
        dqn.variant.settings["overrides"])  # the synthetic config's update schedule
    dream = next(c for c in cells if c.variant.name == "InvertedPendulum-v5/dream")
    # the Pendulum world-model config pointed at the MuJoCo env, nothing tuned for it
    assert "env.id=InvertedPendulum-v5" in dream.variant.settings["overrides"]
    assert "model.termination=learned" in dream.variant.settings["overrides"]
    assert all("synthetic.ratio=0" in c.variant.settings["overrides"]
               for c in cells if c.variant.name.endswith("/sac_utd"))
    # the seed is the cell's, never written into a variant's settings
    assert not any(o.startswith("seed=") for c in cells for o in c.variant.settings["overrides"])


def test_quick_grid_is_three_pendulum_rows_at_short_budgets():
    names = [v.name for v in bench.QUICK.variants]
    assert names == ["Pendulum-v1/sac", "Pendulum-v1/sac_utd", "Pendulum-v1/sac_synthetic"]
    assert bench.QUICK.seeds == (0,)
    overrides = {v.name: v.settings["overrides"] for v in bench.QUICK.variants}
    assert "total_steps=2000" in overrides["Pendulum-v1/sac"]
    assert "total_steps=1000" in overrides["Pendulum-v1/sac_synthetic"]


def test_report_turns_cells_into_runs_and_keeps_unrerun_rows(tmp_path, monkeypatch):
    cell = bench.QUICK.cells()[0]
    record = {"key": cell.key, "digest": cell.digest, "variant": cell.variant.name, "seed": 0,
              "spec": cell.spec(), "metrics": {"curve": [[250, -150.0]], "seconds": 5.0,
                                               "generator_seconds": 0.0, "summary": {}}}
    legacy = tmp_path / "runs.jsonl"
    legacy.write_text("\n".join(json.dumps(r) for r in [
        _run("sac", 0, [[250, -900.0]]), _run("dream", 0, [[250, -150.0]])]) + "\n")
    monkeypatch.setattr(bench, "RUNS_FILE", legacy)
    out = tmp_path / "summary.json"
    monkeypatch.setattr(bench, "SUMMARY_FILE", out)
    figures = bench.report(bench.QUICK, out, [record])
    assert [r["variant"] for r in figures["runs"]] == ["sac"]
    assert figures["runs"][0]["overrides"][-1] == "seed=0"
    # the harness's sac run replaces the legacy one; dream, not rerun, is kept and named
    assert figures["legacy_rows"] == ["Pendulum-v1/dream"]
    rows = figures["results"]["Pendulum-v1"]
    assert rows["sac"]["steps_to_threshold"]["median"] == 250.0
    assert rows["dream"]["seeds"] == 1
    assert (tmp_path / "summary.png").is_file()
    # a summary written elsewhere (a quick run) takes no legacy rows
    elsewhere = bench.report(bench.QUICK, tmp_path / "quick.json", [record])
    assert elsewhere["legacy_rows"] == [] and "dream" not in elsewhere["results"]["Pendulum-v1"]
