"""KL-regularised reward tuning: reward beside diversity, per estimator and KL weight.

`configs/tune/token_frequency.yaml` (a GRU pre-trained on an 8-token Markov chain, then tuned so
that token 4 appears more often) run once per variant and seed, side by side in one job: RLOO at
the shipped KL weight (beta 0.1), a 10x weaker and a 10x stronger weight, REINFORCE, PPO-clip and
the adaptive KL controller. Every row reports the reward **beside** the diversity of the same
1,024 samples (unigram entropy, distinct-2/3, self-BLEU, unique fraction, the most common
sequence's and token's shares, the attractor check against held-out data) and the held-out NLL,
because a reward bought by collapsing onto a few sequences is reward hacking, not tuning. The
reward is hand-written (the frequency of one token): prior knowledge by construction.

A function grid on the benchmark harness (`gmrl.bench.harness`): one cell per variant and seed
(the recipe seeded with `seed=N`, as `gmrl run`), on Ray (one CPU and one torch thread each;
`--workers 1`: serially), appended to benchmarks/results/tuner_kl.cells.jsonl (a rerun skips
them). The summary, benchmarks/results/tuner_kl.json, holds `table` (median [min, max] over
seeds per variant, before and after tuning) and `runs` (every cell's recipe summary); a
Markdown table is printed.

    gmrl bench tuner_kl --seeds 3
    python benchmarks/tuner_kl.py --seeds 3 --workers 1 --variants 'rloo*'
    python benchmarks/tuner_kl.py --quick --out benchmarks/results/quick/tuner_kl.json
"""

import json
import statistics
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from gmrl.bench.grid import FunctionGrid, Variant
from gmrl.bench.harness import main, script_function
from gmrl.bench.summary import latest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "tune" / "token_frequency.yaml"
RESULTS = ROOT / "benchmarks" / "results" / "tuner_kl.json"
VARIANTS: dict[str, list[str]] = {
    "rloo (beta 0.1, shipped)": [],
    "rloo, beta 0.01": ["tuner.beta=0.01"],
    "rloo, beta 1.0": ["tuner.beta=1.0"],
    "reinforce": ["tuner.estimator=reinforce"],
    "ppo": ["tuner.estimator=ppo"],
    "rloo, target_kl 0.5": ["tuner.target_kl=0.5"],
}
QUICK_VARIANTS = ("rloo (beta 0.1, shipped)", "rloo, beta 0.01")
FIGURES = ("reward", "token_entropy", "distinct_2", "distinct_3", "self_bleu", "unique",
           "top_sequence_share", "top_token_share", "attractor", "held_out_nll")


def run_one(settings: dict[str, Any], seed: int) -> dict[str, Any]:
    """One tuning run of the config with the variant's overrides, in a temporary run directory:
    the recipe's summary (and, when the KL guard stopped it, `stopped_by`: why)."""
    from gmrl.core.config import dump_config, load_config
    from gmrl.core.errors import GmrlError
    from gmrl.core.rundir import RunDir
    from gmrl.recipes import load_recipe

    overrides = [*settings["overrides"], f"seed={seed}", "device=cpu"]
    config = load_config(ROOT / settings["config"], overrides,
                         lambda name: load_recipe(name).Config)
    with tempfile.TemporaryDirectory() as folder:
        run = RunDir.create(folder, config.recipe, dump_config(config), quiet=True)
        try:
            summary = dict(load_recipe(config.recipe).run(config, run))
        except GmrlError as error:  # the KL guard stopped it; its summary is still written
            summary = {**json.loads((run.path / "summary.json").read_text()),
                       "stopped_by": str(error).splitlines()[0]}
        finally:
            run.close()
    return summary


def _grid(variants: tuple[str, ...], extra: tuple[str, ...] = ()) -> FunctionGrid:
    return FunctionGrid(
        name="tuner_kl",
        description="KL-regularised reward tuning (RLOO, REINFORCE, PPO-clip; KL weights): "
        "reward beside diversity and held-out NLL",
        function=script_function(__file__, "run_one"),
        variants=tuple(Variant(v, {"config": str(CONFIG.relative_to(ROOT)),
                                   "overrides": [*VARIANTS[v], *extra]}) for v in variants),
        seeds=(0, 1, 2),
        show=("tuned/reward", "tune/kl", "tuned/unique"),
    )


GRID = _grid(tuple(VARIANTS))
QUICK = replace(_grid(QUICK_VARIANTS, ("steps=40",)), seeds=(0,))  # two variants, 40 steps


def runs_of(grid: FunctionGrid, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The grid's recorded cells as the pre-harness script's runs: variant, seed, overrides,
    CPU seconds and the recipe's summary."""
    return [{"variant": r["variant"], "seed": r["seed"],
             "overrides": [*r["spec"]["settings"]["overrides"], f"seed={r['seed']}",
                           "device=cpu"],
             "cpu_s": r["cpu_seconds"], "summary": r["metrics"]}
            for r in latest(records, grid)]


def median_range(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median [min, max] over seeds of each figure, before and after tuning, per variant."""
    table: dict[str, Any] = {}
    for variant in VARIANTS:
        group = [r["summary"] for r in runs if r["variant"] == variant]
        if not group:
            continue
        row: dict[str, Any] = {"seeds": len(group)}
        for stage in ("pretrained", "tuned"):
            for name in FIGURES:
                values = [s[f"{stage}/{name}"] for s in group if f"{stage}/{name}" in s]
                if values:
                    row[f"{stage}/{name}"] = median_range(values)
        kl = [s["tune/kl"] for s in group if "tune/kl" in s]
        if kl:
            row["tune/kl"] = median_range(kl)
        row["stopped_early"] = sum(int(s.get("stopped_early", 0)) for s in group)
        row["attractor_seeds"] = sum(int(s.get("tuned/attractor", 0)) for s in group)
        table[variant] = row
    return table


def _cell(row: dict[str, Any], key: str, spec: str = "{:.3f}") -> str:
    stats = row.get(key)
    if stats is None:
        return "–"
    text = spec.format(stats["median"])
    if stats["min"] != stats["max"]:
        text += f" [{spec.format(stats['min'])}, {spec.format(stats['max'])}]"
    return text


def markdown(table: dict[str, Any]) -> str:
    header = ("| variant | reward | KL (nats/seq) | entropy (nats) | distinct-2 | distinct-3 | "
              "self-BLEU | unique | top sequence | attractor (seeds) | held-out NLL | "
              "stopped by KL guard |")
    lines = [header, "|" + "---|" * 12]
    first = next(iter(table.values()), None)
    if first is not None:
        lines.append(
            "| pre-trained model | " + " | ".join([
                _cell(first, "pretrained/reward"), "0", _cell(first, "pretrained/token_entropy"),
                _cell(first, "pretrained/distinct_2"), _cell(first, "pretrained/distinct_3"),
                _cell(first, "pretrained/self_bleu"), _cell(first, "pretrained/unique"),
                _cell(first, "pretrained/top_sequence_share"), "–",
                _cell(first, "pretrained/held_out_nll", "{:.2f}"), "–"]) + " |")
    for variant, row in table.items():
        flagged = f"{row['attractor_seeds']}/{row['seeds']}"
        lines.append(
            f"| {variant} | " + " | ".join([
                _cell(row, "tuned/reward"), _cell(row, "tune/kl", "{:.2f}"),
                _cell(row, "tuned/token_entropy"), _cell(row, "tuned/distinct_2"),
                _cell(row, "tuned/distinct_3"), _cell(row, "tuned/self_bleu"),
                _cell(row, "tuned/unique"), _cell(row, "tuned/top_sequence_share"), flagged,
                _cell(row, "tuned/held_out_nll", "{:.2f}"),
                f"{row['stopped_early']}/{row['seeds']}"]) + " |")
    return "\n".join(lines)


def report(grid: FunctionGrid, out: Path, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The pre-harness script's `config`, `seeds`, `table` (which tables read) and `runs`."""
    runs = runs_of(grid, records)
    return {"config": str(CONFIG.relative_to(ROOT)), "seeds": list(grid.seeds),
            "table": aggregate(runs), "runs": runs}


def tables(summary: dict[str, Any]) -> list[str]:
    return ["", *markdown(summary["table"]).splitlines()]


if __name__ == "__main__":
    raise SystemExit(main(GRID, quick=QUICK, default_out=RESULTS, extend=report, tables=tables))
