"""The benchmark harness on a tiny grid (tabular Q-learning on a 4x4 FrozenLake, two seeds):
serial cells, resume, a changed setting rerun, a failed cell, the CLI, and two cells on Ray."""

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gmrl.bench.grid import AgentSpec, Evaluation, Grid, Task
from gmrl.bench.harness import cells_path, main, read_records, run_grid
from gmrl.cli import app
from gmrl.core.errors import ConfigError

Q = {"agent": "q_learning", "episodes": 200, "alpha": 0.5, "epsilon": 0.3}
GRID = Grid(
    name="tiny",
    tasks=(Task("FrozenLake-v1", threshold=1.0, env_kwargs={"is_slippery": False}),),
    agents=(AgentSpec("q", Q),),
    seeds=(0, 1),
    budget=300,
    evaluation=Evaluation(every=100, episodes=3),
)


def _quiet(text: str) -> None:
    pass


def test_serial_cells_are_measured_recorded_and_summarised(tmp_path: Path) -> None:
    out = tmp_path / "tiny.json"
    summary = run_grid(GRID, out, workers=1, report=_quiet)
    records = read_records(cells_path(out))
    assert [r["key"] for r in records] == ["FrozenLake-v1/q/seed0", "FrozenLake-v1/q/seed1"]
    for record in records:
        steps = [point[0] for point in record["curve"]]
        assert steps == sorted(steps) and steps[0] == 100
        if record["reached"]:  # stopped at the first evaluation that reached it
            assert record["steps_to_threshold"] == steps[-1] and record["curve"][-1][1] >= 1.0
        else:
            assert record["steps"] == 300 and steps[-1] == 300
        assert record["train_seconds"] > 0 and record["ms_per_step"] > 0
        assert record["machine"]["cpus"] and record["digest"]
    assert json.loads(out.read_text()) == summary
    row = summary["summary"]["FrozenLake-v1"]["q"]
    assert row["seeds"] == 2 and row["solved"] == f"{row['reached']}/2"
    assert summary["failed"] == {} and summary["cells_recorded"] == 2


def test_a_rerun_skips_recorded_cells_and_reruns_changed_ones(
        tmp_path: Path, count_runs: Callable[[str], list[str]]) -> None:
    out = tmp_path / "tiny.json"
    run_grid(replace(GRID, seeds=(0,)), out, workers=1, report=_quiet)
    calls = count_runs("run_cell")
    run_grid(GRID, out, workers=1, report=_quiet)
    assert calls == ["FrozenLake-v1/q/seed1"]  # seed 0 was recorded
    run_grid(GRID, out, workers=1, report=_quiet)
    assert calls == ["FrozenLake-v1/q/seed1"]  # nothing left
    summary = run_grid(GRID.select(budget=200), out, workers=1, report=_quiet)
    assert len(calls) == 3  # a new budget is a new cell
    assert {r["budget"] for r in summary["cells"]} == {200}


def test_a_new_agent_with_its_own_budget_keeps_the_recorded_cells(
        tmp_path: Path, count_runs: Callable[[str], list[str]]) -> None:
    """Adding an agent (with a per-task budget of its own) to a grid leaves the other cells'
    digests alone, and records hashed by the earlier rule (every agent's budget) still count."""
    out = tmp_path / "tiny.json"
    one = replace(GRID, seeds=(0,), tasks=(replace(GRID.tasks[0], budgets={"q": 300}),))
    run_grid(one, out, workers=1, report=_quiet)
    grown = replace(one, agents=(*one.agents, AgentSpec("q2", {**Q, "alpha": 0.4})),
                    tasks=(replace(one.tasks[0], budgets={"q": 300, "q2": 200}),))
    assert [c.digest for c in grown.cells()][:1] == [c.digest for c in one.cells()]
    calls = count_runs("run_cell")
    summary = run_grid(grown, out, workers=1, report=_quiet)
    assert calls == ["FrozenLake-v1/q2/seed0"]
    assert {r["budget"] for r in summary["cells"]} == {300, 200}
    # a record whose stored digest hashed every agent's budget (before the rule changed)
    path = cells_path(out)
    records = read_records(path)
    records[0]["digest"] = "0123456789abcdef"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert run_grid(grown, out, workers=1, report=_quiet)["cells_recorded"] == 2
    assert calls == ["FrozenLake-v1/q2/seed0"]  # nothing rerun


def test_a_failed_cell_is_one_line_and_not_recorded(tmp_path: Path) -> None:
    bad = replace(GRID, seeds=(0,), agents=(AgentSpec("bad", {"agent": "q_learning",
                                                              "nope": 1}),))
    out = tmp_path / "bad.json"
    lines: list[str] = []
    summary = run_grid(bad, out, workers=1, report=lines.append)
    assert "nope" in summary["failed"]["FrozenLake-v1/bad/seed0"]
    assert read_records(cells_path(out)) == [] and "failed" in lines[-1]


def test_select_refuses_unknown_names() -> None:
    with pytest.raises(ConfigError, match=r"no agent 'sac' .*have: q"):
        GRID.select(agents=["sac"])


def test_gmrl_bench_runs_a_harness_script(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "tiny.py").write_text(
        "from gmrl.bench.grid import AgentSpec, Grid, Task\n"
        "from gmrl.bench.harness import main\n"
        "GRID = Grid('tiny', (Task('FrozenLake-v1', 1.0),),\n"
        "            (AgentSpec('q', {'agent': 'q_learning'}),), (0, 1), 300)\n"
        "raise SystemExit(main(GRID, default_out='out/tiny.json'))\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["bench", "tiny", "--workers", "1", "--seeds", "1",
                                      "--budget", "100"])
    assert result.exit_code == 0, result.output
    assert "wrote out/tiny.json (1/1 cells)" in result.output
    listed = CliRunner().invoke(app, ["bench", "tiny", "--list", "--seeds", "2",
                                      "--budget", "100"])
    assert "seed0 (budget 100): recorded" in listed.output
    assert "seed1 (budget 100): to run" in listed.output
    assert main(GRID, ["--agents", "sac"], default_out=tmp_path / "x.json") == 2


def test_two_cells_run_in_parallel_on_a_local_ray(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=128 * 2**20)
    try:
        summary = run_grid(GRID, tmp_path / "tiny.json", workers=2, report=_quiet)
    finally:
        ray.shutdown()
    assert summary["failed"] == {}
    assert sorted(r["seed"] for r in summary["cells"]) == [0, 1]
    # each cell ran in a Ray worker, not in this process
    assert len({r["pid"] for r in summary["cells"]}) == 2


def test_gmrl_bench_runs_cells_on_a_running_ray_with_address_auto(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`ray start --head`, then `gmrl bench <script> --ray-address auto`: the cells run in that
    instance's workers (not in this process), and the instance is left running."""
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import tempfile
    import time

    pytest.importorskip("ray")
    ray_cli = shutil.which("ray") or str(Path(sys.executable).parent / "ray")
    if not Path(ray_cli).is_file():
        pytest.skip("no `ray` command beside this Python")
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "tiny.py").write_text(
        "from gmrl.bench.grid import AgentSpec, Evaluation, Grid, Task\n"
        "from gmrl.bench.harness import main\n"
        "GRID = Grid('tiny', (Task('FrozenLake-v1', 1.0, env_kwargs={'is_slippery': False}),),\n"
        "            (AgentSpec('q', {'agent': 'q_learning', 'episodes': 200}),), (0, 1), 300,\n"
        "            evaluation=Evaluation(every=100, episodes=3))\n"
        "raise SystemExit(main(GRID, default_out='out/tiny.json'))\n")
    # a short folder of its own: Ray's socket paths must stay under 108 bytes
    ray_dir = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_TMPDIR": ray_dir}
    env.pop("RAY_ADDRESS", None)
    monkeypatch.setenv("RAY_TMPDIR", env["RAY_TMPDIR"])  # `auto` finds the instance started here
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.chdir(tmp_path)
    # `--block` keeps the instance's processes in one process group of their own, so the test
    # stops this instance alone (`ray stop` would stop every Ray on the machine)
    head = subprocess.Popen([ray_cli, "start", "--head", "--block", "--num-cpus", "2",
                             "--port", "0", "--include-dashboard", "false",
                             "--disable-usage-stats", "--temp-dir", ray_dir],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        for _ in range(600):  # up to a minute for the instance to say where it is
            if (Path(ray_dir) / "ray_current_cluster").is_file() or head.poll() is not None:
                break
            time.sleep(0.1)
        assert head.poll() is None, head.stderr.read().decode()[-500:] if head.stderr else ""
        result = CliRunner().invoke(app, ["bench", "tiny", "--ray-address", "auto"])
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        head.wait(timeout=60)
        shutil.rmtree(ray_dir, ignore_errors=True)
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "tiny.json").read_text())
    assert summary["failed"] == {} and summary["cells_recorded"] == 2
    assert os.getpid() not in {r["pid"] for r in summary["cells"]}
