"""The synthetic-experience benchmark's report logic: thresholds, budgets, medians, table."""

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
    table = bench.markdown(bench.summarise(runs))
    assert row["steps_to_threshold_all_seeds_median"] == 2000.0  # 1000, 2000, never
    assert "| sac_synthetic | 2/3 | 2000 | 1500 [1000, 2000] |" in table


def test_every_variant_of_every_seed_is_a_job():
    jobs = bench.jobs(["Pendulum-v1", "InvertedPendulum-v5"], 2, quick=False)
    variants = {(j["env"], j["variant"]) for j in jobs}
    assert ("Pendulum-v1", "dream") in variants and ("InvertedPendulum-v5", "dream") in variants
    assert len(jobs) == 2 * 6 + 2 * 6
    dream = next(j for j in jobs if j["variant"] == "dream" and j["env"] != "Pendulum-v1")
    # the Pendulum world-model config pointed at the MuJoCo env, nothing tuned for it
    assert "env.id=InvertedPendulum-v5" in dream["overrides"]
    assert "model.termination=learned" in dream["overrides"]
    ratio_zero = [j for j in jobs if j["variant"] == "sac_utd"]
    assert all("synthetic.ratio=0" in j["overrides"] for j in ratio_zero)
