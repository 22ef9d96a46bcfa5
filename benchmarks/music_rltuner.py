"""RL Tuner's Table 1, reproduced and compared with gmrl's KL-regularised tuner, over seeds.

For each seed it trains one Note-RNN (configs/music/pretrain.yaml), then tunes it with RL Tuner's
Q-, Psi- and G-learning (configs/music/rltuner_{q,psi,g}.yaml) and gmrl's best on-policy tuner
(configs/music/tuner.yaml), each run through the `music` recipe from the same saved Note-RNN, and
scores 10,000 compositions of every model with RL Tuner's Table 1 statistics, the mean log p under
the Note-RNN and diversity, beside the same figures on held-out corpus windows and the paper's.
It checks the issue's targets for gmrl's tuner (every Table 1 row at least as good as the paper's
Q row, log p within 1 nat of the Note-RNN's own samples, >= 95 % unique), flags collapse, and
times gmrl's tuner including pre-training. Writes benchmarks/results/music/rltuner.json, the
token files of the first seed's 10,000 compositions per model, and prints a Markdown table.

    nice .venv/bin/python benchmarks/music_rltuner.py --seeds 0 1 2
    gmrl bench music --seeds 0 --rl-steps 100 --tuner-steps 100      # a quicker look
"""

import argparse
import json
import math
import platform
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from gmrl.core.checkpoint import atomic_write_text
from gmrl.core.config import dump_config, load_config
from gmrl.core.rundir import RunDir
from gmrl.music.encoding import COMPOSITION_STEPS
from gmrl.recipes import load_recipe
from gmrl.recipes import music as recipe

RESULTS = Path("benchmarks/results/music")
CONFIGS = Path("configs/music")
MODELS = {"q": "rltuner_q", "psi": "rltuner_psi", "g": "rltuner_g", "gmrl": "tuner",
          "gmrl_table1": "tuner_table1", "gmrl_q_row": "tuner_q_row",
          "gmrl_guided": "tuner_guided", "gmrl_guided_motif": "tuner_guided_motif"}
GMRL = ("gmrl", "gmrl_table1", "gmrl_q_row", "gmrl_guided", "gmrl_guided_motif")
ROWS = (
    "repeated_notes_pct", "not_in_key_pct", "tonic_start_pct", "leaps_resolved_pct",
    "unique_max_pct", "unique_min_pct", "notes_in_motif_pct", "notes_in_repeated_motif_pct",
    "autocorrelation_lag1", "autocorrelation_lag2", "autocorrelation_lag3",
)
EXTRA = ("log_p", "unique_fraction", "distinct_2", "distinct_3", "token_entropy", "top1_share",
         "collapsed", "attractor", "pitch_class_entropy", "scale_consistency", "pitch_range")
# Jaques et al. 2017, Table 1 (10,000 compositions each): Note-RNN, Q, Psi, G.
PAPER = {
    "note_rnn": {"repeated_notes_pct": 63.3, "not_in_key_pct": 0.1, "tonic_start_pct": 0.9,
                 "leaps_resolved_pct": 77.2, "unique_max_pct": 64.7, "unique_min_pct": 49.4,
                 "notes_in_motif_pct": 5.9, "notes_in_repeated_motif_pct": 0.007,
                 "autocorrelation_lag1": -0.16},
    "q": {"repeated_notes_pct": 0.0, "not_in_key_pct": 1.00, "tonic_start_pct": 28.8,
          "leaps_resolved_pct": 91.1, "unique_max_pct": 56.4, "unique_min_pct": 51.9,
          "notes_in_motif_pct": 75.7, "notes_in_repeated_motif_pct": 0.11,
          "autocorrelation_lag1": -0.11},
    "psi": {"repeated_notes_pct": 0.02, "not_in_key_pct": 0.60, "tonic_start_pct": 28.7,
            "leaps_resolved_pct": 90.0, "unique_max_pct": 59.4, "unique_min_pct": 58.3,
            "notes_in_motif_pct": 73.8, "notes_in_repeated_motif_pct": 0.09,
            "autocorrelation_lag1": -0.10},
    "g": {"repeated_notes_pct": 0.03, "not_in_key_pct": 28.7, "tonic_start_pct": 0.0,
          "leaps_resolved_pct": 52.2, "unique_max_pct": 37.1, "unique_min_pct": 56.5,
          "notes_in_motif_pct": 69.3, "notes_in_repeated_motif_pct": 0.01,
          "autocorrelation_lag1": 0.55},
}
# The targets for gmrl's tuner: (row, "<=" or ">=", bound) from the paper's Q row.
TARGETS = (
    ("repeated_notes_pct", "<=", 0.0), ("not_in_key_pct", "<=", 1.0),
    ("tonic_start_pct", ">=", 28.8), ("leaps_resolved_pct", ">=", 91.1),
    ("notes_in_motif_pct", ">=", 75.7), ("notes_in_repeated_motif_pct", ">=", 0.11),
)


def _run(config_name: str, seed: int, root: Path, overrides: list[str]) -> tuple[Path, dict, float]:
    """Run one config through the recipe; returns its directory, summary and CPU seconds.

    CPU seconds of this process (one torch thread), not wall-clock: on a shared machine the
    wall clock measures the neighbours; on an idle core the two agree.
    """
    config = load_config(CONFIGS / f"{config_name}.yaml", [f"seed={seed}", *overrides],
                         lambda name: load_recipe(name).Config)
    recipe.prepare(config)
    run = RunDir.create(root, f"{config_name}-s{seed}", dump_config(config), quiet=True)
    start = time.process_time()
    try:
        summary = recipe.run(config, run)
    finally:
        run.close()
    seconds = time.process_time() - start
    run.write_summary(summary)
    return run.path, summary, seconds


def _pick(summary: dict[str, float], table: str) -> dict[str, float]:
    return {k: summary[f"{table}/{k}"] for k in (*ROWS, *EXTRA) if f"{table}/{k}" in summary}


def run_seed(seed: int, args: argparse.Namespace, root: Path, tokens: bool) -> dict[str, Any]:
    """Pre-train once, tune with every algorithm from that Note-RNN; figures per model."""
    common = [f"eval.compositions={args.compositions}", "eval.render=0",
              f"corpus.source={args.corpus}"]
    prefix = "" if args.corpus == "bach" else f"{args.corpus}_"
    pre = [*common, f"note_rnn.epochs={args.pretrain_epochs}"]
    path, summary, pretrain_s = _run("pretrain", seed, root, pre)
    checkpoint = path / "note_rnn.safetensors"
    out: dict[str, Any] = {
        "note_rnn": _pick(summary, "tuned"),  # tuning.steps=0: the samples are the Note-RNN's
        "corpus": _pick(summary, "corpus"),
        "held_out_nll_per_event": summary["note_rnn/held_out_nll"],
        "seconds": {"pretrain": pretrain_s},
    }
    if tokens:
        shutil.copy(path / "compositions.txt", RESULTS / f"{prefix}note_rnn_seed{seed}.txt")
    for model, config_name in MODELS.items():
        if args.models and model not in args.models:
            continue
        steps = args.tuner_steps if model in GMRL else args.rl_steps
        extra = [*common, f"note_rnn.checkpoint={checkpoint}", "eval.compare=false"]
        if steps is not None:
            extra.append(f"tuning.steps={steps}")
        path, summary, seconds = _run(config_name, seed, root, extra)
        out[model] = _pick(summary, "tuned")
        out[model]["log_p_gap"] = summary["tuned/log_p"] - out["note_rnn"]["log_p"]
        if model in GMRL:  # the collapse guard's early stop, if it fired
            out[model]["stopped_early"] = summary.get("tune/stopped_early", 0.0)
        out["seconds"][model] = seconds
        if tokens:
            shutil.copy(path / "compositions.txt", RESULTS / f"{prefix}{model}_seed{seed}.txt")
        print(f"seed {seed} {model}: {seconds:.0f} CPU s", flush=True)
    for model in (m for m in GMRL if m in out):
        out["seconds"][f"{model}_incl_pretrain"] = pretrain_s + out["seconds"][model]
    return out


def _median(values: list[float]) -> float:
    finite = [v for v in values if v == v]
    return statistics.median(finite) if finite else float("nan")


def aggregate(per_seed: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Median, min and max over seeds of every figure of every model (over the seeds that ran
    it: merged runs may have used different `--models`)."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    for model in ("note_rnn", *MODELS, "corpus"):
        having = [s for s in per_seed if model in s]
        if not having:
            continue
        keys = dict.fromkeys(key for s in having for key in s[model])
        table[model] = {}
        for key in keys:
            values = [float("nan") if s[model].get(key) is None else float(s[model][key])
                      for s in having]
            finite = [v for v in values if v == v] or [float("nan")]
            table[model][key] = {"median": _median(values), "min": min(finite),
                                 "max": max(finite)}
    return table


def check_targets(
    table: dict[str, Any], per_seed: list[dict[str, Any]], model: str = "gmrl"
) -> dict[str, Any]:
    """The issue's targets for one of gmrl's tuners, on the median over the seeds that ran it."""
    per_seed = [s for s in per_seed if model in s]
    gmrl = table[model]
    checks: dict[str, Any] = {}
    for row, op, bound in TARGETS:
        value = gmrl[row]["median"]
        checks[row] = {"value": value, "target": f"{op} {bound}",
                       "met": value <= bound if op == "<=" else value >= bound}
    gap = gmrl["log_p"]["median"] - table["note_rnn"]["log_p"]["median"]
    checks["log_p_within_1_nat"] = {"value": gap, "target": ">= -1.0", "met": gap >= -1.0}
    # the same gap per event (RL Tuner's reward log p(a|s) is per event): the issue does not say
    # which unit "within 1 nat" means, so both readings are checked and reported apart
    per_event = gap / COMPOSITION_STEPS
    checks["log_p_within_1_nat_per_event"] = {
        "value": per_event, "target": ">= -1.0", "met": per_event >= -1.0,
    }
    unique = gmrl["unique_fraction"]["median"]
    checks["unique_fraction"] = {"value": unique, "target": ">= 0.95", "met": unique >= 0.95}
    seconds = max(s["seconds"][f"{model}_incl_pretrain"] for s in per_seed)
    checks["minutes_incl_pretrain"] = {
        "value": seconds / 60, "target": "< 10", "met": seconds < 600,
    }
    checks["collapsed_any_seed"] = any(s[model]["collapsed"] for s in per_seed)
    unit = {"log_p_within_1_nat": "per_composition",
            "log_p_within_1_nat_per_event": "per_event"}
    for reading in unit.values():
        checks[f"all_met_{reading}"] = all(
            v["met"] for k, v in checks.items()
            if isinstance(v, dict) and unit.get(k, reading) == reading)
    checks["all_met"] = checks["all_met_per_composition"]
    checks["seeds_all_met_per_event"] = [s["seed"] for s in per_seed
                                         if "seed" in s and seed_meets_all(s, model)]
    return checks


def seed_meets_all(seed: dict[str, Any], model: str = "gmrl") -> bool:
    """One seed alone: every Q row, log p within 1 nat per event of that seed's Note-RNN
    samples, >= 95 % unique (the median check above can pass while single seeds miss)."""
    figures = seed[model]
    rows = all(
        figures[row] is not None
        and (figures[row] <= bound if op == "<=" else figures[row] >= bound)
        for row, op, bound in TARGETS
    )
    gap = (figures["log_p"] - seed["note_rnn"]["log_p"]) / COMPOSITION_STEPS
    return rows and gap >= -1.0 and figures["unique_fraction"] >= 0.95


def markdown(table: dict[str, Any]) -> str:
    """Table 1 (+ log p and diversity): ours as median [min, max] beside the paper's."""
    models = [m for m in ("note_rnn", "q", "psi", "g", *GMRL, "corpus") if m in table]
    names = {"note_rnn": "Note-RNN", "q": "Q", "psi": "Psi", "g": "G", "gmrl": "gmrl RLOO",
             "gmrl_table1": "gmrl RLOO, Table 1 mode", "gmrl_q_row": "gmrl RLOO, Q-row search",
             "gmrl_guided": "gmrl RLOO, Q-row search + rule guide",
             "gmrl_guided_motif": "gmrl RLOO, guided motif rules", "corpus": "held-out corpus"}
    head = "| row | " + " | ".join(names[m] for m in models) + " | paper Note-RNN / Q / Psi / G |"
    lines = [head, "|---" * (len(models) + 2) + "|"]
    for row in (*ROWS[:8], "autocorrelation_lag1", "log_p", "unique_fraction", "distinct_2",
                "distinct_3", "token_entropy", "top1_share", "collapsed", "attractor"):
        cells = []
        for model in models:
            figure = table[model].get(row)
            cells.append("n/a" if figure is None else f"{figure['median']:.3g} "
                         f"[{figure['min']:.3g}, {figure['max']:.3g}]")
        paper = " / ".join(f"{PAPER[m][row]:g}" for m in ("note_rnn", "q", "psi", "g")) \
            if row in PAPER["q"] else ""
        lines.append(f"| {row} | " + " | ".join(cells) + f" | {paper} |")
    return "\n".join(lines)


def _strict(value: Any) -> Any:
    """NaN and infinities become null (strict JSON); bools stay bools."""
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--compositions", type=int, default=10_000)
    parser.add_argument("--corpus", default="bach",
                        help="corpus.source of every run: bach, essen, bach+essen")
    parser.add_argument("--pretrain-epochs", type=int, default=30)
    parser.add_argument("--rl-steps", type=int, default=None, help="Q/Psi/G rollouts (config's)")
    parser.add_argument("--tuner-steps", type=int, default=None, help="gmrl tuner steps (config's)")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=None,
                        help="tune with these only (default: all; the Note-RNN always runs)")
    parser.add_argument("--runs", type=Path, default=Path("runs/bench-music"))
    parser.add_argument("--out", type=Path, default=RESULTS / "rltuner.json")
    parser.add_argument("--tokens", action=argparse.BooleanOptionalAction, default=None,
                        help="copy token files (default: for the first seed only)")
    parser.add_argument("--merge", type=Path, nargs="+", default=None,
                        help="combine the per-seed results of earlier runs (e.g. one per seed "
                        "run in parallel) instead of running")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    commands: list[str] = []
    if args.merge:
        merged = [json.loads(path.read_text()) for path in args.merge]
        per_seed = [s for data in merged for s in data["per_seed"]]
        commands = [data["command"] for data in merged]
        args.seeds = [s["seed"] for s in per_seed]
    else:
        per_seed = [
            {"seed": seed, **run_seed(seed, args, args.runs,
                                      tokens=index == 0 if args.tokens is None else args.tokens)}
            for index, seed in enumerate(args.seeds)
        ]
    table = aggregate(per_seed)
    checks = {model: check_targets(table, per_seed, model) for model in GMRL if model in table}
    options = {k: v for k, v in vars(args).items()
               if k not in ("runs", "out", "merge", "tokens") and v is not None}
    command = "python benchmarks/music_rltuner.py " + " ".join(
        f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in options.items())
    if args.merge:
        command = " && ".join([*commands, "python benchmarks/music_rltuner.py --merge "
                               + " ".join(map(str, args.merge))])
    result = {
        "command": command,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "torch_threads": 1,
        "seeds": args.seeds,
        "table": table,
        "paper": PAPER,
        "targets": checks,
        "per_seed": per_seed,
        "total_seconds": time.perf_counter() - started,
    }
    atomic_write_text(args.out, json.dumps(_strict(result), indent=2, allow_nan=False) + "\n")
    print(markdown(table))
    for model, model_checks in checks.items():
        print(f"\ntargets for {model}:")
        for name, check in model_checks.items():
            print(f"  {name}: {check}")


if __name__ == "__main__":
    main()
