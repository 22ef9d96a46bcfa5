"""The runner: each benchmark in its own subprocess, failures recorded, the rest still run."""

from pathlib import Path

from gmrl.bench.registry import mode_dir
from gmrl.bench.report import write_report
from gmrl.bench.runner import run_all

from .fake import fake_registry, read_json

INFO = {"platform": "Linux-test", "machine": "x86_64", "processor": "cpu", "cpus": 2,
        "python": "3.x", "torch": "2.x", "cuda": False}


def test_a_failure_is_recorded_and_the_next_benchmark_still_runs(tmp_path: Path) -> None:
    benchmarks = list(fake_registry(tmp_path))
    out = mode_dir("quick", Path("results"))
    outcomes = run_all(benchmarks, "quick", out, tmp_path)
    status = {o.name: o for o in outcomes}
    assert [o.name for o in outcomes] == ["bad", "missing", "good", "silent"]
    bad = status["bad"]
    assert bad.status == "failed" and bad.returncode == 1
    assert "line one of the failure" in bad.stderr_tail
    assert bad.stderr_tail[-1] == "bad things happened"
    assert status["missing"].status == "not_available"
    good = status["good"]
    assert good.status == "ok" and good.returncode == 0 and good.seconds > 0
    assert good.outputs == ["results/quick/good.json"]
    assert read_json(tmp_path / "results/quick/good.json") == {"score": 7}
    assert (tmp_path / good.log).read_text() == "done\n"
    assert "--out results/quick/good.json" in good.command
    silent = status["silent"]
    assert silent.status == "failed" and "did not write results/quick/silent.json" in \
        silent.stderr_tail[-1]

    record = write_report(benchmarks, outcomes, "quick", out, tmp_path, "gmrl bench all --quick",
                          12.0, info=INFO)
    saved = read_json(tmp_path / out / "bench_all.json")
    assert saved == record
    assert [b["status"] for b in saved["benchmarks"]] == ["failed", "not_available", "ok",
                                                           "failed"]
    assert saved["machine"]["cpus"] == 2 and saved["mode"] == "quick"
    text = (tmp_path / out / "bench_all.md").read_text()
    assert "Linux-test, 2 CPUs" in text
    assert "| 7 | done |" in text  # the good benchmark's table, made from its JSON and log
    assert "Not yet available: coming later." in text
    assert (tmp_path / out / "bench_all_seconds.png").stat().st_size > 0


def test_full_mode_uses_the_full_arguments(tmp_path: Path) -> None:
    good = [b for b in fake_registry(tmp_path) if b.name == "good"]
    out = mode_dir("full", Path("results"))
    (outcome,) = run_all(good, "full", out, tmp_path)
    assert outcome.status == "ok"
    assert read_json(tmp_path / "results/full/good.json") == {"score": 70}
