"""KL-regularised reward tuning: reward beside diversity, per estimator and KL weight.

`configs/tune/token_frequency.yaml` (a GRU pre-trained on an 8-token Markov chain, then tuned so
that token 4 appears more often) run once per variant and seed, side by side in one job: RLOO at
the shipped KL weight (beta 0.1), a 10x weaker and a 10x stronger weight, REINFORCE, PPO-clip and
the adaptive KL controller. Every row reports the reward **beside** the diversity of the same
1,024 samples (unigram entropy, distinct-2/3, self-BLEU, unique fraction, the most common
sequence's and token's shares, the attractor check against held-out data) and the held-out NLL,
because a reward bought by collapsing onto a few sequences is reward hacking, not tuning. The
reward is hand-written (the frequency of one token): prior knowledge by construction.

    python benchmarks/tuner_kl.py --seeds 0 1 2
    python benchmarks/tuner_kl.py --quick --out benchmarks/results/quick/tuner_kl.json

Writes benchmarks/results/tuner_kl.json (per-run summaries and median [min, max] per variant)
and prints a Markdown table.
"""

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

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


def run_one(variant: str, seed: int, extra: list[str]) -> dict[str, Any]:
    """One tuning run in a temporary run directory: its summary and CPU seconds."""
    import torch

    from gmrl.core.config import dump_config, load_config
    from gmrl.core.errors import GmrlError
    from gmrl.core.rundir import RunDir
    from gmrl.recipes import load_recipe

    torch.set_num_threads(1)
    overrides = [*VARIANTS[variant], *extra, f"seed={seed}", "device=cpu"]
    config = load_config(CONFIG, overrides, lambda name: load_recipe(name).Config)
    started = time.process_time()
    with tempfile.TemporaryDirectory() as folder:
        run = RunDir.create(folder, config.recipe, dump_config(config), quiet=True)
        try:
            summary = load_recipe(config.recipe).run(config, run)
        except GmrlError as error:  # the KL guard stopped it; its summary is still written
            print(f"  {variant} seed {seed}: {error}", flush=True)
            summary = json.loads((run.path / "summary.json").read_text())
        finally:
            run.close()
    return {"variant": variant, "seed": seed, "overrides": overrides,
            "cpu_s": time.process_time() - started, "summary": summary}


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=2, help="runs in parallel (1 CPU each)")
    parser.add_argument("--quick", action="store_true",
                        help="seed 0, two variants, 40 tuning steps")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    variants = QUICK_VARIANTS if args.quick else tuple(VARIANTS)
    seeds = [0] if args.quick else args.seeds
    extra = ["steps=40"] if args.quick else []
    jobs = [(v, s, extra) for s in seeds for v in variants]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        runs = list(pool.map(run_one, *zip(*jobs, strict=True)))
    table = aggregate(runs)
    result = {"command": "python benchmarks/tuner_kl.py " + " ".join(sys.argv[1:] if argv is None
                                                                      else argv),
              "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
              "config": str(CONFIG.relative_to(ROOT)), "seeds": seeds,
              "wall_s": time.perf_counter() - started, "table": table, "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(table))


if __name__ == "__main__":
    main()
