"""The SeqGAN benchmark's report logic: curve interpolation, per-axis verdicts, targets."""

from pathlib import Path

import pytest

from gmrl.sequence.data import ORACLE_FILE, find_shared_file, oracle_path

from . import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("seqgan_oracle")


def _row(name: str, nll_oracle: float, nll_test: float, entropy: float, distinct: float,
         attractor: float = 0.0) -> dict:
    return {f"{name}/nll_oracle": nll_oracle, f"{name}/nll_test": nll_test,
            f"{name}/token_entropy": entropy, f"{name}/distinct_2": distinct,
            f"{name}/distinct_3": distinct + 0.01, f"{name}/unique_fraction": 1.0,
            f"{name}/top_token_share": 0.004, f"{name}/run_share": 0.001,
            f"{name}/attractor": attractor, f"{name}/nll_oracle_without_runs": nll_oracle,
            f"{name}/copy_rate": 0.0}


def _summary(seqgan: float, pg_bleu: float) -> dict:
    # The MLE temperature curve: cooling to 0.9 lowers NLL_oracle 9.0 -> 8.7 and entropy
    # 7.8 -> 7.4. SeqGAN sits at entropy 7.7; PG-BLEU at 7.0 (outside the curve), attractor.
    return {**_row("oracle", 5.75, 0.0, 7.81, 0.9), **_row("random", 11.4, 8.5, 8.4, 0.99),
            **_row("mle", 9.0, 8.2, 7.8, 0.9), **_row("mle_t0.9", 8.7, 8.5, 7.4, 0.8),
            **_row("seqgan", seqgan, 8.3, 7.7, 0.85),
            **_row("pg_bleu", pg_bleu, 8.4, 7.0, 0.7, attractor=1.0)}


def test_curve_interpolates_inside_and_refuses_outside(bench):
    points = [(8.2, 9.0), (8.5, 8.7)]
    assert bench.curve_at(points, 8.3) == pytest.approx(8.9)
    assert bench.curve_at(points, 8.6) is None


def test_verdicts_per_axis_targets_and_markdown(bench):
    runs = {0: {"finished": True, "summary": _summary(seqgan=8.85, pg_bleu=8.9)},
            1: {"finished": True, "summary": _summary(seqgan=8.65, pg_bleu=8.7)}}
    result = bench.aggregate(runs)
    seed0 = result["quality_diversity"][0]
    # at NLL_test 8.3 the curve gives 8.9, so 8.85 is below; at entropy 7.7 it gives 8.925
    assert seed0["seqgan"]["nll_test"]["below_curve"] is True
    assert seed0["seqgan"]["token_entropy"]["curve_nll_oracle"] == pytest.approx(8.925)
    # at distinct-2 0.85 the curve gives 8.85: not below
    assert seed0["seqgan"]["distinct_2"]["below_curve"] is False
    assert seed0["pg_bleu"]["token_entropy"]["below_curve"] is None  # outside the curve
    gains = result["gains"]
    assert gains[0]["gain_met"] is False and gains[0]["absolute_met"] is False
    assert gains[1]["gain_met"] and gains[1]["absolute_met"]
    # the MLE model cooled to 8.85 has entropy 7.6: SeqGAN's 7.7 is +0.1, within the target
    assert gains[0]["entropy_gap"] == pytest.approx(0.1) and gains[0]["entropy_met"]
    assert gains[1]["entropy_gap"] is None  # 8.65 is colder than the curve goes
    assert result["table"]["pg_bleu"]["attractor"]["values"] == [1.0, 1.0]
    result.update(config="fast.yaml", machine="x86_64", runs=runs)
    text = bench.markdown(result, "gmrl bench seqgan")
    assert "-0.150 (not met)" in text and "-0.350 (met)" in text
    assert "| PG-BLEU | 8.946 |" in text and "| 2/2 seeds |" in text
    assert "below on 2/2" in text  # SeqGAN on the NLL_test axis
    assert "Oracle's own samples" in text
    # the verdicts: an attractor makes PG-BLEU's score reward hacking; SeqGAN wins at equal
    # NLL_test and entropy on both seeds, and at equal distinct-2 on one of two
    assert "**PG-BLEU: reward hacking.**" in text
    assert "**SeqGAN: a real gain.**" in text and "Mixed: distinct-2 (below on 1/2" in text


@pytest.mark.skipif(find_shared_file(ORACLE_FILE) is None, reason=f"{ORACLE_FILE} not found")
def test_kept_token_files_rescore_to_the_recorded_figures(bench, tmp_path):
    """A run's token files are kept compressed, and rescoring them from scratch (from the
    results file that lists them) gives the NLL_oracle the run recorded (here: oracle samples
    scored by the oracle itself)."""
    import json

    import torch

    from gmrl.sequence.oracle import OracleLSTM
    from gmrl.sequence.tokens import write_token_file

    oracle = OracleLSTM.from_npz(oracle_path())
    samples = oracle.sample(200, torch.Generator().manual_seed(0))
    run = tmp_path / "seqgan_runs" / "fast" / "seed0" / "seqgan-1"
    run.mkdir(parents=True)
    write_token_file(samples.tolist(), run / "samples_seqgan.txt")
    kept = bench.keep_token_files(run, tmp_path / "seqgan_tokens" / "fast" / "seed0")
    assert kept == [str(tmp_path / "seqgan_tokens" / "fast" / "seed0" / "seqgan.txt.gz")]
    results = tmp_path / "seqgan_oracle.json"
    results.write_text(json.dumps({"runs": {"0": {
        "summary": {"seqgan/nll_oracle": oracle.nll(samples)}, "token_files": kept}}}))
    scores = bench.rescore(results, references=500)["seeds"]["0"]["seqgan"]
    assert scores["n"] == 200
    assert scores["nll_oracle"] == pytest.approx(scores["recorded_nll_oracle"], rel=1e-6)
    assert scores["attractor"] == 0.0  # the oracle's own samples pile on nothing


@pytest.mark.skipif(find_shared_file(ORACLE_FILE) is None, reason=f"{ORACLE_FILE} not found")
def test_the_quick_grid_runs_on_the_harness_and_keeps_its_samples(bench, tmp_path):
    """The quick grid's one cell (configs/seqgan/quick.yaml, seconds) run serially on the
    harness: the cells file, the pre-harness figures in the summary, the plots and the token
    files beside it, and a rescore of those files that gives the recorded NLL_oracle."""
    import json

    from gmrl.bench.harness import cells_path, read_records, run_grid

    out = tmp_path / "seqgan_oracle.json"
    _, quick = bench.grids(out)
    summary = run_grid(quick, out, workers=1, report=lambda text: None, extend=bench.report)
    assert summary["failed"] == {} and len(read_records(cells_path(out))) == 1
    stored = json.loads(out.read_text())
    assert stored["config"] == "configs/seqgan/quick.yaml" and stored["paper"] == bench.PAPER
    assert set(stored["table"]) == set(bench.ROWS)
    assert {"nll_oracle", "unique_fraction", "token_entropy",
            "top_sequence_share"} <= set(stored["table"]["seqgan"])
    assert stored["gains"]["0"]["mle"] == stored["runs"]["0"]["summary"]["mle/nll_oracle"]
    files = stored["runs"]["0"]["token_files"]
    assert [Path(f).name for f in files] == [f"{row}.txt.gz" for row in bench.KEPT_ROWS]
    assert all(Path(f).is_relative_to(tmp_path / "seqgan_tokens" / "quick" / "seed0")
               for f in files)
    assert (tmp_path / "seqgan_oracle_quality_diversity.png").is_file()
    assert (tmp_path / "seqgan_oracle_nll_curve_seed0.png").is_file()
    assert "## SeqGAN on the paper's oracle" in "\n".join(bench.tables(summary))
    scores = bench.rescore(out, references=500)["seeds"]["0"]
    assert scores["seqgan"]["nll_oracle"] == pytest.approx(
        scores["seqgan"]["recorded_nll_oracle"], rel=1e-5)
