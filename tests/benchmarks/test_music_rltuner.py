"""The music benchmark's report logic: aggregation over seeds, target checks, the table."""

import os
from dataclasses import replace
from pathlib import Path

import pytest

from . import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("music_rltuner")


def _model(bench, **overrides: float) -> dict:
    figures = {row: 50.0 for row in bench.ROWS}
    figures.update({"log_p": -20.0, "unique_fraction": 1.0, "collapsed": 0.0,
                    "distinct_3": 0.1, "token_entropy": 2.0, "top1_share": 0.001})
    figures.update(overrides)
    return figures


def _seed(bench, gmrl: dict, seconds: float = 300.0) -> dict:
    return {"note_rnn": _model(bench), "corpus": _model(bench), "q": _model(bench),
            "psi": _model(bench), "g": _model(bench), "gmrl": gmrl,
            "seconds": {"gmrl_incl_pretrain": seconds}}


def test_targets_pass_only_when_every_row_beats_the_q_row(bench):
    good = _model(bench, repeated_notes_pct=0.0, not_in_key_pct=0.5, tonic_start_pct=30.0,
                  leaps_resolved_pct=92.0, notes_in_motif_pct=76.0,
                  notes_in_repeated_motif_pct=0.2, log_p=-20.5)
    per_seed = [_seed(bench, good), _seed(bench, dict(good, log_p=-20.9))]
    checks = bench.check_targets(bench.aggregate(per_seed), per_seed)
    assert checks["all_met"], checks
    bad = dict(good, notes_in_motif_pct=60.0)
    per_seed = [_seed(bench, bad)]
    checks = bench.check_targets(bench.aggregate(per_seed), per_seed)
    assert not checks["notes_in_motif_pct"]["met"] and not checks["all_met"]


def test_collapse_log_p_and_time_fail_the_targets(bench):
    good = _model(bench, repeated_notes_pct=0.0, not_in_key_pct=0.5, tonic_start_pct=30.0,
                  leaps_resolved_pct=92.0, notes_in_motif_pct=76.0,
                  notes_in_repeated_motif_pct=0.2)
    for figures, seconds, failed in (
        (dict(good, unique_fraction=0.5), 300.0, "unique_fraction"),
        (dict(good, log_p=-21.5), 300.0, "log_p_within_1_nat"),
        (good, 700.0, "minutes_incl_pretrain"),
    ):
        per_seed = [_seed(bench, figures, seconds)]
        checks = bench.check_targets(bench.aggregate(per_seed), per_seed)
        assert not checks[failed]["met"] and not checks["all_met"], failed


def test_issue25_targets_hold_the_gap_to_the_corpus_budget_and_memorisation(bench):
    def seed(gap: float, memorised: float) -> dict:
        gmrl = _model(bench, repeated_notes_pct=0.0, not_in_key_pct=0.5, leaps_resolved_pct=95.0,
                      notes_in_motif_pct=80.0, log_p_gap=gap,
                      budget_nats=20.0, memorisation_8=memorised, memorisation_16=memorised)
        out = _seed(bench, gmrl)
        out["corpus"].update(memorisation_8=0.4, memorisation_16=0.05)
        return out

    good = [seed(-15.0, 0.01) for _ in range(3)]
    checks = bench.check_targets(bench.aggregate(good), good)
    assert checks["log_p_gap_within_corpus_budget"]["met"] and checks["all_met_issue25"]
    over = [seed(-25.0, 0.01) for _ in range(3)]  # 25 nats below: over the 20-nat budget
    assert not bench.check_targets(bench.aggregate(over), over)["all_met_issue25"]
    copying = [seed(-15.0, 0.3) for _ in range(3)]  # 16-grams copied more than real melodies
    checks = bench.check_targets(bench.aggregate(copying), copying)
    assert not checks["memorisation_16_vs_corpus"]["met"] and not checks["all_met_issue25"]


def test_aggregate_takes_median_and_range_and_skips_nan(bench):
    per_seed = [_seed(bench, _model(bench, log_p=v)) for v in (-30.0, -10.0, -20.0)]
    per_seed[0]["gmrl"]["leaps_resolved_pct"] = None  # NaN, stored as null in JSON
    table = bench.aggregate(per_seed)
    assert table["gmrl"]["log_p"] == {"median": -20.0, "min": -30.0, "max": -10.0}
    assert table["gmrl"]["leaps_resolved_pct"]["median"] == 50.0
    text = bench.markdown(table)
    assert "| notes_in_motif_pct |" in text and "63.3 / 0 / 0.02 / 0.03" in text


def test_per_event_reading_of_within_1_nat_is_checked_apart(bench):
    good = _model(bench, repeated_notes_pct=0.0, not_in_key_pct=0.5, tonic_start_pct=30.0,
                  leaps_resolved_pct=92.0, notes_in_motif_pct=76.0,
                  notes_in_repeated_motif_pct=0.2, log_p=-45.0)  # 25 nats = 0.78 per event
    per_seed = [_seed(bench, good)]
    checks = bench.check_targets(bench.aggregate(per_seed), per_seed)
    assert not checks["log_p_within_1_nat"]["met"] and not checks["all_met"]
    assert checks["log_p_within_1_nat_per_event"]["value"] == pytest.approx(-25 / 32)
    assert checks["all_met_per_event"] and not checks["all_met_per_composition"]
    far = [_seed(bench, dict(good, log_p=-60.0))]  # 40 nats = 1.25 per event
    checks = bench.check_targets(bench.aggregate(far), far)
    assert not checks["all_met_per_event"]


def test_each_seed_is_also_checked_alone(bench):
    good = _model(bench, repeated_notes_pct=0.0, not_in_key_pct=0.5, tonic_start_pct=30.0,
                  leaps_resolved_pct=92.0, notes_in_motif_pct=76.0,
                  notes_in_repeated_motif_pct=0.2, log_p=-20.5)
    per_seed = [{"seed": 0, **_seed(bench, good)},
                {"seed": 1, **_seed(bench, dict(good, log_p=-60.0))},  # 1.25 nats per event
                {"seed": 2, **_seed(bench, dict(good, repeated_notes_pct=0.01))}]
    checks = bench.check_targets(bench.aggregate(per_seed), per_seed)
    assert checks["seeds_all_met_per_event"] == [0]
    assert bench.seed_meets_all(per_seed[0]) and not bench.seed_meets_all(per_seed[2])


def test_merged_runs_with_different_models_aggregate_over_the_seeds_that_ran_each(bench):
    good = _model(bench, repeated_notes_pct=0.0, not_in_key_pct=0.5, tonic_start_pct=30.0,
                  leaps_resolved_pct=92.0, notes_in_motif_pct=76.0,
                  notes_in_repeated_motif_pct=0.2, log_p=-20.5)
    full = {"seed": 0, **_seed(bench, good)}
    subset = {"seed": 1, "note_rnn": _model(bench), "corpus": _model(bench),
              "gmrl": dict(good, log_p=-30.5, repeated_notes_pct=0.01),
              "seconds": {"gmrl_incl_pretrain": 300.0}}
    table = bench.aggregate([full, subset])
    assert table["q"]["log_p"]["median"] == -20.0  # seed 0 only
    assert table["gmrl"]["log_p"]["median"] == -25.5  # both seeds
    checks = bench.check_targets(table, [subset, full])
    assert checks["seeds_all_met_per_event"] == [0]


def test_a_seed_stopped_by_the_collapse_guard_fails_the_targets_and_is_shown(bench):
    good = _model(bench, repeated_notes_pct=0.0, not_in_key_pct=0.5, tonic_start_pct=30.0,
                  leaps_resolved_pct=92.0, notes_in_motif_pct=76.0,
                  notes_in_repeated_motif_pct=0.2, log_p=-20.5, stopped_early=0.0)
    per_seed = [{"seed": 0, **_seed(bench, good)},
                {"seed": 1, **_seed(bench, dict(good, stopped_early=1.0, steps_kept=90.0))},
                {"seed": 2, **_seed(bench, good)}]
    table = bench.aggregate(per_seed)
    checks = bench.check_targets(table, per_seed)
    assert checks["stopped_by_guard"] == {"value": [1], "target": "no seed", "met": False}
    assert not checks["all_met"] and not checks["all_met_per_event"]
    assert checks["seeds_all_met_per_event"] == [0, 2]
    assert "| stopped by collapse guard | - | - | - | - | 1 of 3 (seeds 1) |" in \
        bench.markdown(table, per_seed)


def test_files_written_before_they_were_recorded_are_found_by_their_old_names(bench, tmp_path):
    for name in ("essen_q_seed0.txt", "essen_gmrl_seed0.txt.gz", "q_seed0.txt"):
        (tmp_path / name).write_text("")
    found = bench.stored_files({"seed": 0}, "essen", tmp_path)
    assert found == {"q": tmp_path / "essen_q_seed0.txt",
                     "gmrl": tmp_path / "essen_gmrl_seed0.txt.gz"}
    assert bench.stored_files({"seed": 0}, "bach", tmp_path) == {"q": tmp_path / "q_seed0.txt"}
    assert bench.corpus_name({"command": "python x.py --corpus essen --seeds 1"}) == "essen"
    assert bench.corpus_name({"command": "python x.py --seeds 1"}) == "bach"


def test_a_tiny_run_keeps_every_row_and_the_rescore_reproduces_its_table(bench, tmp_path,
                                                                         capsys):
    """Run one cell for real on the harness, serially, on a constructed 300-melody corpus
    (seconds), then rescore it from its gzip token files and kept Note-RNN; change one token
    file and it no longer does."""
    import gzip
    import json

    import numpy as np

    from gmrl.bench.harness import cells_path, read_records, run_grid
    from gmrl.music.render import write_token_file

    corpus = tmp_path / "corpus.txt"
    rng = np.random.default_rng(1)  # notes of a C major octave, holds, some rests
    events = rng.choice([0, 1, 14, 16, 18, 19, 21, 23, 25, 26], size=(300, 32),
                        p=[0.05, 0.45, *[0.0625] * 8])
    write_token_file(events, corpus)
    out = tmp_path / "results" / "tiny.json"
    grid, _ = bench.grids(out)
    tiny = bench.variant("tiny", out, corpus=str(corpus), compositions=24, pretrain_epochs=1,
                         rl_steps=2, tuner_steps=2, models=["q", "gmrl_guided"])
    grid = replace(grid, variants=(tiny,), seeds=(0,))
    summary = run_grid(grid, out, workers=1, report=lambda text: None, extend=bench.report)
    assert summary["failed"] == {} and len(read_records(cells_path(out))) == 1
    stored = json.loads(out.read_text())
    seed = stored["per_seed"][0]
    assert seed["seed"] == 0 and stored["seeds"] == [0] and stored["variant"] == "tiny"
    assert set(seed["files"]) == {"checkpoint", "note_rnn", "q", "gmrl_guided"}
    assert all(Path(p).is_relative_to(tmp_path / "results" / "tiny_tokens" / "tiny")
               for p in seed["files"].values())
    assert all(Path(p).exists() for p in seed["files"].values())
    for key in ("memorisation_16", "repeated_bar_pct", "max_copies", "log_p_p10",
                "log_p_median", "log_p_per_event", "copies_corpus", "repeats_bars"):
        assert key in seed["gmrl_guided"] and key in seed["corpus"], key
    assert seed["gmrl_guided"]["stopped_early"] == 0.0
    assert "gmrl_guided_incl_pretrain" in seed["seconds"]
    assert stored["corpus"] == str(corpus) and "gmrl_guided" in stored["targets"]
    assert "gmrl/repeated_notes_pct" not in stored["summary"]["tiny"]["metrics"]
    assert "gmrl_guided/log_p" in stored["summary"]["tiny"]["metrics"]
    assert "| stopped by collapse guard |" in "\n".join(bench.tables(summary))

    result = bench.rescore(out)
    assert result["reproduced"], result["differences"]
    assert result["table"] == stored["table"]
    assert all(o["rescored"] and not o["kept_as_recorded"]
               for o in result["rescore"]["0"].values())

    tokens = Path(seed["files"]["q"])
    rows = gzip.decompress(tokens.read_bytes()).decode().splitlines()
    rows[0] = " ".join(["14"] * 32)
    tokens.write_bytes(gzip.compress(("\n".join(rows) + "\n").encode()))
    changed = bench.rescore(out)
    assert not changed["reproduced"]
    assert "log_p" in changed["rescore"]["0"]["q"]["differ"]
    capsys.readouterr()


def test_a_tiny_default_variant_is_one_run_and_its_rescore_reproduces_it(bench, tmp_path,
                                                                         capsys):
    """A `default_*` variant at a tiny budget: configs/music/default.yaml pre-trains and tunes
    in one run (the `gmrl` row, timed whole), the Note-RNN and held-out rows come from that run,
    Q is tuned from its Note-RNN, and the Note-RNN samples kept afterwards rescore to the run's
    own figures."""
    import json

    import numpy as np

    from gmrl.bench.harness import run_grid
    from gmrl.music.render import write_token_file

    corpus = tmp_path / "corpus.txt"
    rng = np.random.default_rng(2)
    write_token_file(rng.choice([0, 1, 14, 16, 18, 19, 21, 23, 25, 26], size=(200, 32),
                                p=[0.05, 0.45, *[0.0625] * 8]), corpus)
    out = tmp_path / "results" / "default.json"
    grid, _ = bench.grids(out)
    names = [v.name for v in grid.variants]
    assert {"default_essen", "default_bach", "default_folder"} <= set(names)
    tiny = bench.variant("default_tiny", out, corpus=str(corpus), compositions=24, default=True,
                         rl_steps=2, models=["gmrl", "q"],
                         overrides=["note_rnn.epochs=1", "note_rnn.min_updates=1",
                                    "note_rnn.hidden=16", "tuning.steps=2",
                                    "tuning.tuner.batch_size=16", "tuning.tuner.group_size=4",
                                    "eval.batch=16", "eval.every=1"])
    summary = run_grid(replace(grid, variants=(tiny,), seeds=(0,)), out, workers=1,
                       report=lambda text: None, extend=bench.report)
    assert summary["failed"] == {}
    stored = json.loads(out.read_text())
    seed = stored["per_seed"][0]
    assert set(seed["files"]) == {"checkpoint", "note_rnn", "gmrl", "q"}
    assert {"note_rnn", "corpus", "gmrl", "q"} <= set(seed) and "psi" not in seed
    assert seed["seconds"]["gmrl_incl_pretrain"] == seed["seconds"]["gmrl"] > 0
    assert "pretrain" not in seed["seconds"]  # one run: pre-training is inside gmrl's time
    assert "log_p_gap" in seed["gmrl"] and "log_p_gap" in seed["corpus"]
    assert seed["gmrl"]["backoffs"] == 0.0  # the guard's back-offs are recorded per seed
    assert stored["gmrl_config"] == "default.yaml"
    assert seed["gmrl"]["budget_nats"] >= 1.0  # kl_budget: corpus, measured by the run
    issue25 = stored["targets"]["gmrl"]
    assert {"log_p_gap_within_corpus_budget", "unique_fraction_99", "memorisation_16_vs_corpus",
            "all_met_issue25"} <= set(issue25)
    assert "gmrl default.yaml (one run)" in "\n".join(bench.tables(summary))
    result = bench.rescore(out)
    assert result["reproduced"], result["differences"]
    capsys.readouterr()


def test_a_folder_corpus_is_copied_once_from_music21s_corpus(bench, tmp_path, monkeypatch):
    monkeypatch.setenv("GMRL_CACHE", str(tmp_path))
    assert bench.corpus_source("essen") == "essen"
    folder = Path(bench.corpus_source("folder:ryansMammoth:3"))
    assert folder == tmp_path / "music" / "bench" / "ryansMammoth-3"
    files = sorted(folder.iterdir())
    assert len(files) == 3 and all(f.suffix == ".abc" for f in files)
    os.utime(files[0], ns=(1, 1))  # a marker a second copy would overwrite
    assert bench.corpus_source("folder:ryansMammoth:3") == str(folder)
    assert files[0].stat().st_mtime_ns == 1  # the folder is reused, so its cache stays valid
