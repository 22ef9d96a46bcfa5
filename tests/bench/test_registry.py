"""The registry matches benchmarks/: every script has an entry, and quick runs stay in quick/."""

import re
from pathlib import Path

from gmrl.bench.registry import BENCHMARKS, DIAGNOSIS, HELPERS, by_name, mode_dir

ROOT = Path(__file__).resolve().parents[2]


def test_every_benchmark_script_has_an_entry() -> None:
    scripts = {p.stem for p in (ROOT / "benchmarks").glob("*.py")} - HELPERS
    registered = {Path(b.script).stem for b in BENCHMARKS if b.script is not None}
    assert scripts - registered == set(), "add these scripts to gmrl.bench.registry.BENCHMARKS"
    assert len({b.name for b in BENCHMARKS}) == len(BENCHMARKS)


def test_quick_outputs_never_touch_the_full_results() -> None:
    quick, full = mode_dir("quick"), mode_dir("full")
    for bench in BENCHMARKS:
        for path in bench.outputs("quick", quick):
            assert path.is_relative_to(quick), (bench.name, path)
        for arg in bench.args("quick", quick):
            if arg.startswith("benchmarks/results"):
                assert Path(arg).is_relative_to(quick), (bench.name, arg)
        assert bench.outputs("quick", quick) != bench.outputs("full", full) or not bench.available


def test_every_flag_used_is_one_the_script_defines() -> None:
    for bench in BENCHMARKS:
        if bench.script is None:
            assert bench.note, bench.name  # says why it is not available
            continue
        source = (ROOT / bench.script).read_text()
        if "gmrl.bench.harness" in source:  # the harness defines its scripts' flags
            source += (ROOT / "src/gmrl/bench/harness.py").read_text()
        for mode in ("quick", "full"):
            for flag in (a for a in bench.args(mode, mode_dir(mode)) if a.startswith("--")):
                name = re.sub(r"^--no-", "--", flag)  # BooleanOptionalAction
                assert f'"{name}"' in source, (bench.name, mode, flag)
        assert bench.table is not None, bench.name


def test_by_name_keeps_registry_order_and_refuses_unknown_names() -> None:
    assert [b.name for b in by_name(["rl_zoo", "worldmodel"])] == ["worldmodel", "rl_zoo"]
    assert len(by_name(None)) == len(BENCHMARKS)
    try:
        by_name(["nope"])
    except ValueError as exc:
        assert "nope" in str(exc) and "worldmodel" in str(exc)
    else:
        raise AssertionError("an unknown name was accepted")


def test_diagnosis_scripts_find_the_benchmark_modules_they_import() -> None:
    """benchmarks/diagnosis/ scripts put benchmarks/ on sys.path for their sibling imports."""
    scripts = sorted((ROOT / DIAGNOSIS).glob("*.py"))
    assert scripts
    siblings = {p.stem for p in (ROOT / "benchmarks").glob("*.py")}
    for script in scripts:
        source = script.read_text()
        used = set(re.findall(r"^from (\w+) import", source, re.M)) & (
            siblings | {"worldmodel_suite", "suite_envs", "music_rltuner"})
        assert used <= siblings, (script.name, used - siblings)
        if used:
            assert "sys.path.insert(0, str(Path(__file__).resolve().parents[1]))" in source
        assert 'if __name__ == "__main__":' in source, script.name
