"""SeqGAN on the paper's oracle, beside the paper's Table 1: `gmrl bench seqgan`.

Runs the `seqgan` recipe once per seed (each run measures the random generator, MLE, the MLE
model at lower sampling temperatures, scheduled sampling, PG-BLEU and SeqGAN on the same data),
then aggregates every row's NLL_oracle beside NLL_test, unigram entropy, distinct-2/3, unique
fraction, the share of the most frequent sample and an attractor check (mean and spread over
seeds), CPU and wall-clock time, and the quality-diversity check on each diversity axis: is a
model's NLL_oracle below the curve traced by the MLE model sampled at temperatures 0.7-1.0, at
the same diversity? A lower NLL_oracle on that curve is what a colder MLE model gets for free;
one bought by collapsing onto a few sequences the oracle likes (PG-BLEU's failure) is reward
hacking, and the attractor check shows it. The 10,000 scored samples of every row are kept,
gzip-compressed, so that anyone can rescore them.

A function grid on the benchmark harness (`gmrl.bench.harness`): one variant per config
(`fast`: configs/seqgan/fast.yaml; the quick grid's `quick`: configs/seqgan/quick.yaml, tiny
sizes, not comparable to the paper), one cell per variant and seed, each one run of the recipe
with `seed=N` (as `gmrl run`). Cells run on Ray (one CPU and one torch thread each;
`--workers 1`: serially) and are appended to `<out stem>.cells.jsonl` (a rerun skips them). A
cell's run directory goes to `<out folder>/seqgan_runs/<variant>/seed<N>/` (for the default
`--out`, benchmarks/results/seqgan_runs/, not kept in git); a cell stopped part-way resumes its
unfinished run directory of the same config from the last checkpoint, as `gmrl run --resume`.
Its table rows' token files are kept as `<out folder>/seqgan_tokens/<variant>/seed<N>/<row>.txt.gz`
(benchmarks/results/seqgan_tokens/fast/... for the default `--out`).

The summary (default benchmarks/results/seqgan_oracle.json) holds, beside the harness's
figures, the pre-harness script's `table` (per row: mean, std, min, max and every seed's value
of each figure), `temperature_curve`, `quality_diversity`, `gains` (the targets), `timing`,
`paper` and `runs` (per seed: the recipe's summary, its NLL_oracle curve and its token files),
for the grid's first variant with recorded cells; plots go beside it
(`<out stem>_quality_diversity.png`, `<out stem>_nll_curve_seed<N>.png`), and for the default
`--out` the '## SeqGAN on the paper's oracle' section of docs/BENCHMARKS.md is rewritten. A
Markdown report is printed.

    gmrl bench seqgan --seeds 4                  # configs/seqgan/fast.yaml, seeds 0-3, on Ray
    gmrl bench seqgan --seeds 1 --workers 1      # seed 0, serially in this process
    gmrl bench seqgan --seeds 4 --report-only    # rewrite the summary from the recorded cells
    gmrl bench seqgan --quick --workers 1 --out benchmarks/results/quick/seqgan_oracle.json
    gmrl bench seqgan --rescore                  # score the kept token files from scratch
    gmrl bench seqgan --rescore benchmarks/results/seqgan_oracle.json --seeds 0 1

`--rescore [RESULTS_JSON]` reads the token files a results file lists (its `runs`: the current
format and the pre-harness one alike), scores them from scratch against the oracle and writes
seqgan_rescore.json beside the results file, with each row's recorded NLL_oracle.
"""

import argparse
import itertools
import json
import os
import shutil
import statistics
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from gmrl.bench.grid import FunctionGrid, Variant
from gmrl.bench.harness import main as harness_main
from gmrl.bench.harness import parser as harness_parser
from gmrl.bench.harness import script_function
from gmrl.bench.summary import latest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
RESULTS_FILE = RESULTS / "seqgan_oracle.json"
DOC = ROOT / "docs" / "BENCHMARKS.md"
HEADING = "## SeqGAN on the paper's oracle"
CONFIGS = {"fast": "configs/seqgan/fast.yaml", "quick": "configs/seqgan/quick.yaml"}
PAPER = {"random": 10.310, "mle": 9.038, "ss": 8.985, "pg_bleu": 8.946, "seqgan": 8.736}
RANKGAN = 8.247  # Lin et al. 2017, the same oracle experiment
# Issue targets: SeqGAN NLL_oracle, its drop below gmrl's own MLE, and the most unigram entropy
# it may lose against the MLE model cooled to the same NLL_oracle.
TARGET_NLL, TARGET_GAIN, TARGET_ENTROPY_GAP = 8.70, 0.30, 0.1
LABELS = {"oracle": "Oracle's own samples", "random": "Random", "mle": "MLE",
          "ss": "Scheduled sampling", "pg_bleu": "PG-BLEU", "seqgan": "SeqGAN"}
ROWS = ("oracle", "random", "mle", "ss", "pg_bleu", "seqgan")
KEPT_ROWS = ("mle", "ss", "pg_bleu", "seqgan")
COMPARED = ("ss", "pg_bleu", "seqgan")  # rows fine-tuned from the MLE model
METRICS = ("nll_oracle", "nll_test", "token_entropy", "distinct_2", "distinct_3",
           "unique_fraction", "top_sequence_share", "top_token_share", "run_share", "attractor",
           "nll_oracle_without_runs", "copy_rate")
AXES = ("nll_test", "token_entropy", "distinct_2", "distinct_3")
AXIS_LABELS = {"nll_test": "NLL_test (model NLL of held-out data)",
               "token_entropy": "unigram entropy (nats)", "distinct_2": "distinct-2",
               "distinct_3": "distinct-3"}


# ----------------------------------------------------------------------------- one cell
def shown(path: Path) -> str:
    """A path as recorded: relative to the repository root when inside it, else absolute."""
    path = path.resolve()
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def located(text: str) -> Path:
    """A recorded path (see `shown`) as a path: relative ones are from the repository root."""
    path = Path(text)
    return path if path.is_absolute() else ROOT / path


def run_recipe(config: Any, root: Path) -> Path:
    """Run `config` through its recipe in a run directory under `root`, as `gmrl run --runs
    root` does (summary.json written at the end); an unfinished run directory there of the very
    same config is resumed from its last checkpoint instead, as `gmrl run --resume` does."""
    from gmrl.core.config import dump_config
    from gmrl.core.rundir import RunDir
    from gmrl.recipes import load_recipe

    text = dump_config(config)
    recipe = load_recipe(config.recipe)
    prepare = getattr(recipe, "prepare", None)
    if prepare is not None:
        prepare(config)
    unfinished = [d for d in sorted(root.glob(f"{config.recipe}-*"))
                  if (d / "config.yaml").is_file() and not (d / "summary.json").is_file()
                  and (d / "config.yaml").read_text() == text]
    run = (RunDir.open_existing(unfinished[-1], quiet=True) if unfinished
           else RunDir.create(root, config.recipe, text, quiet=True))
    try:
        summary = recipe.run(config, run)
        run.commit_config()
        run.write_summary(summary)
    finally:
        run.close()
    return run.path


def read_run(path: Path) -> dict:
    """Summary of a finished run, or the last evaluation reached by an unfinished one."""
    import csv

    import yaml

    metrics = path / "metrics.csv"
    rows = list(csv.DictReader(metrics.open())) if metrics.is_file() else []
    evals = [r for r in rows if r.get("eval/nll_oracle")]
    config = yaml.safe_load((path / "config.yaml").read_text())
    out: dict = {"run_dir": shown(path), "finished": False, "config": config}
    if evals:
        last = evals[-1]
        out["reached"] = {"step": int(last["step"]), "phase": "adversarial" if
                          float(last.get("charts/phase") or 0) else "mle",
                          "nll_oracle": float(last["eval/nll_oracle"]),
                          "nll_test": float(last["eval/nll_test"])}
        out["curve"] = [[int(r["step"]), float(r["eval/nll_oracle"])] for r in evals]
    if (path / "summary.json").is_file():
        out["finished"] = True
        out["summary"] = json.loads((path / "summary.json").read_text())
    return out


def keep_token_files(path: Path, folder: Path) -> list[str]:
    """Copy a finished run's token files of the table rows, gzip-compressed, to
    `folder/<row>.txt.gz` (kept in git for the default results, so anyone can rescore them:
    `--rescore`); their recorded paths."""
    from gmrl.sequence.tokens import read_token_file, write_token_file

    kept = []
    for row in KEPT_ROWS:
        source = path / f"samples_{row}.txt"
        if source.is_file():
            target = folder / f"{row}.txt.gz"
            target.parent.mkdir(parents=True, exist_ok=True)
            write_token_file(read_token_file(source).tolist(), target)
            kept.append(shown(target))
    return kept


def run_one(settings: dict[str, Any], seed: int) -> dict[str, Any]:
    """One run of the variant's config with `seed=N` (resumed where a run of it stopped part
    way), its table rows' token files kept: the recipe's summary (every row's figures, `time/`),
    with `curve` (NLL_oracle per evaluation), `reached`, `run_dir`, `run_config` and
    `token_files`."""
    from gmrl.core.config import load_config
    from gmrl.recipes import load_recipe

    config = load_config(ROOT / settings["config"], [*settings["overrides"], f"seed={seed}"],
                         lambda name: load_recipe(name).Config)
    path = run_recipe(config, located(settings["runs"]) / f"seed{seed}")
    run = read_run(path)
    return {**run["summary"], "curve": run.get("curve", []), "reached": run.get("reached"),
            "run_dir": run["run_dir"], "run_config": run["config"],
            "token_files": keep_token_files(path, located(settings["tokens"]) / f"seed{seed}")}


# ----------------------------------------------------------------------------- the grid
def variant(name: str, out: Path = RESULTS_FILE, overrides: Sequence[str] = ()) -> Variant:
    """The config `CONFIGS[name]` (with `overrides`), its run directories and token files in
    the folder of the summary `out`."""
    return Variant(name, {"config": CONFIGS[name], "overrides": list(overrides),
                          "runs": shown(out.parent / "seqgan_runs" / name),
                          "tokens": shown(out.parent / "seqgan_tokens" / name)})


def grids(out: Path = RESULTS_FILE) -> tuple[FunctionGrid, FunctionGrid]:
    """The full grid (fast.yaml, seeds 0-3) and the quick one (quick.yaml, seed 0), writing
    beside the summary `out`."""
    grid = FunctionGrid(
        name="seqgan_oracle",
        description="SeqGAN, MLE, scheduled sampling and PG-BLEU on the SeqGAN paper's oracle: "
        "NLL_oracle beside diversity, against the MLE temperature curve",
        function=script_function(__file__, "run_one"),
        variants=(variant("fast", out),),
        seeds=(0, 1, 2, 3),
        show=("seqgan/nll_oracle", "mle/nll_oracle", "pg_bleu/nll_oracle",
              "seqgan/token_entropy"),
    )
    return grid, replace(grid, variants=(variant("quick", out),), seeds=(0,))


GRID, QUICK = grids()


# ----------------------------------------------------------------------------- the report
def runs_of(grid: FunctionGrid, records: list[dict[str, Any]]) -> tuple[str, dict[int, dict]]:
    """The first variant with recorded cells and its cells as the pre-harness script's runs
    ({seed: {"run_dir", "finished", "config", "reached", "curve", "summary",
    "token_files"}})."""
    current = latest(records, grid)
    name = next((v.name for v in grid.variants if any(r["variant"] == v.name for r in current)),
                grid.variants[0].name)
    extras = ("curve", "reached", "run_dir", "run_config", "token_files")
    runs = {}
    for record in current:
        if record["variant"] != name:
            continue
        metrics = record["metrics"]
        runs[int(record["seed"])] = {
            "run_dir": metrics["run_dir"], "finished": True, "config": metrics["run_config"],
            "reached": metrics["reached"], "curve": metrics["curve"],
            "summary": {k: v for k, v in metrics.items() if k not in extras},
            "token_files": metrics["token_files"]}
    return name, runs


def report(grid: FunctionGrid, out: Path, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The harness `extend` hook: the pre-harness script's figures (`table`,
    `temperature_curve`, `quality_diversity`, `gains`, `timing`, `config`, `paper`, `load`,
    `runs`), which tables, the headline and `--rescore` read; the plots beside `out`; for the
    default results file, the section of docs/BENCHMARKS.md."""
    name, runs = runs_of(grid, records)
    result = aggregate(runs)
    settings = next(v.settings for v in grid.variants if v.name == name)
    result.update(variant=name, config=settings["config"], paper=PAPER,
                  load=f"{os.getloadavg()[0]:.1f}", runs=runs)
    if result["temperature_curve"]:
        plot(result, out.with_name(f"{out.stem}_quality_diversity.png"))
    for seed, run in runs.items():  # each run's NLL_oracle-vs-epochs figure, kept beside out
        figure = located(run["run_dir"]) / "plots" / "nll_oracle.png"
        if figure.is_file():
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(figure, out.with_name(f"{out.stem}_nll_curve_seed{seed}.png"))
    if runs and out.resolve() == RESULTS_FILE.resolve():
        write_section(markdown({**result, "machine": _machine()}, _command()))
    return result


def tables(summary: dict[str, Any]) -> list[str]:
    """The harness `tables` hook: the Markdown report."""
    if not summary.get("runs"):
        return []
    return ["", *markdown(summary, summary.get("command", _command())).splitlines()]


def _command() -> str:
    return " ".join(["gmrl bench seqgan", *sys.argv[1:]])


def _machine() -> dict[str, Any]:
    from gmrl.bench.machine import machine

    return machine()


def machine_text(info: Any) -> str:
    """A results file's machine in words: the harness's record or the pre-harness string."""
    if not isinstance(info, dict):
        return str(info)
    gpu = "a GPU" if info.get("cuda") else "no GPU"
    return f"{info.get('machine', '?')}, {info.get('cpus', '?')} CPUs, {gpu}"


def rescore(path: Path, seeds: Sequence[int] | None = None,
            references: int = 10_000) -> dict:
    """Score the token files the results file `path` lists (per seed in `runs`; all seeds, or
    `seeds`) from scratch (oracle NLL, diversity, attractor check against `references` fresh
    oracle samples) and set each row's recorded NLL_oracle beside it."""
    import torch

    from gmrl.sequence.data import oracle_path
    from gmrl.sequence.diversity import attractor_check, run_mask, sequence_diversity
    from gmrl.sequence.oracle import OracleLSTM
    from gmrl.sequence.tokens import read_token_file

    data = json.loads(Path(path).read_text())
    oracle = OracleLSTM.from_npz(oracle_path())
    # a fixed stream, the same as every rescore before: the recorded rescores stay comparable
    reference = oracle.sample(references, torch.Generator().manual_seed(12345))
    out: dict = {"rescore_of": shown(Path(path)),
                 "reference": f"{references} oracle samples, torch seed 12345", "seeds": {}}
    for seed, run in sorted(data.get("runs", {}).items(), key=lambda kv: int(kv[0])):
        if seeds is not None and int(seed) not in seeds:
            continue
        summary = run.get("summary", {})
        for name in run.get("token_files", []):
            file = located(name)
            row = file.name.removesuffix(".txt.gz")
            tokens = torch.from_numpy(read_token_file(file, vocab_size=oracle.vocab_size))
            token_nll = oracle.token_nll(tokens)  # one oracle pass for both figures
            figures = {"n": len(tokens), "nll_oracle": float(token_nll.mean()),
                       **sequence_diversity(tokens)}
            figures["attractor"] = attractor_check(tokens, reference)["attractor"]
            kept = ~run_mask(tokens)
            figures["nll_oracle_without_runs"] = (float(token_nll[kept].mean()) if kept.any()
                                                  else None)
            recorded = summary.get(f"{row}/nll_oracle")
            figures["recorded_nll_oracle"] = recorded
            out["seeds"].setdefault(str(seed), {})[row] = figures
            print(f"seed {seed} {row:8s} NLL_oracle {figures['nll_oracle']:.4f} (recorded "
                  f"{'-' if recorded is None else f'{recorded:.4f}'}), entropy "
                  f"{figures['token_entropy']:.3f}, distinct-2 {figures['distinct_2']:.3f}, "
                  f"top token {int(figures['top_token'])} at "
                  f"{100 * figures['top_token_share']:.2f} %, run-4 share "
                  f"{100 * figures['run_share']:.2f} %")
    return out


def spread(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1
            else 0.0, "min": min(values), "max": max(values), "n": len(values),
            "values": values}


def curve_at(points: list[tuple[float, float]], x: float) -> float | None:
    """The curve's y at `x` (linear interpolation between its points), None outside."""
    points = sorted(points)
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x0 <= x <= x1 and x1 > x0:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return None


def temperature_points(summary: dict) -> dict[str, dict[str, float]]:
    """The MLE model's rows at every sampling temperature, keyed by temperature ('1' = mle)."""
    rows = {"1": "mle"}
    for key in summary:
        if key.startswith("mle_t") and key.endswith("/nll_oracle"):
            rows[f"{float(key[len('mle_t'):-len('/nll_oracle')]):g}"] = key.split("/")[0]
    return {t: {m: summary[f"{row}/{m}"] for m in METRICS if f"{row}/{m}" in summary}
            for t, row in sorted(rows.items(), key=lambda kv: float(kv[0]))}


def aggregate(runs: dict[int, dict]) -> dict:
    """Per-row spreads over seeds, the temperature curve on every diversity axis, and the
    targets."""
    done = {s: r["summary"] for s, r in runs.items() if r["finished"]}
    table: dict = {}
    for method in ROWS:
        seeds = [s for s, summary in done.items() if f"{method}/nll_oracle" in summary]
        if seeds:
            table[method] = {m: spread([done[s][f"{method}/{m}"] for s in seeds])
                             for m in METRICS if all(f"{method}/{m}" in done[s] for s in seeds)}
            table[method]["seeds"] = seeds
    temps = {s: temperature_points(summary) for s, summary in done.items()}
    verdicts: dict = {}
    for s, summary in done.items():
        for method in COMPARED:
            if f"{method}/nll_oracle" not in summary:
                continue
            for axis in AXES:
                curve = [(p[axis], p["nll_oracle"]) for p in temps[s].values() if axis in p]
                if f"{method}/{axis}" not in summary:
                    continue
                point = [summary[f"{method}/{axis}"], summary[f"{method}/nll_oracle"]]
                at = curve_at(curve, point[0])
                verdicts.setdefault(s, {}).setdefault(method, {})[axis] = {
                    "point": point, "curve_nll_oracle": at,
                    "below_curve": None if at is None else point[1] < at}
    gains = {}
    for s, summary in done.items():
        if "seqgan/nll_oracle" not in summary:
            continue
        seqgan, mle = summary["seqgan/nll_oracle"], summary["mle/nll_oracle"]
        curve = [(p["nll_oracle"], p["token_entropy"]) for p in temps[s].values()
                 if "token_entropy" in p]
        matched = curve_at(curve, seqgan)
        entropy = summary.get("seqgan/token_entropy")
        gap = None if matched is None or entropy is None else entropy - matched
        gains[s] = {"seqgan": seqgan, "mle": mle, "gain_met": mle - seqgan >= TARGET_GAIN,
                    "absolute_met": seqgan <= TARGET_NLL,
                    "matched_mle_entropy": matched, "entropy_gap": gap,
                    "entropy_met": None if gap is None else gap >= -TARGET_ENTROPY_GAP}
    timing = {s: {k: v for k, v in summary.items() if k.startswith("time/")}
              for s, summary in done.items()}
    return {"table": table, "temperature_curve": temps, "quality_diversity": verdicts,
            "gains": gains, "timing": timing}


def plot(result: dict, path: Path) -> None:
    """NLL_oracle against each diversity axis: the MLE temperature curve per seed, and the
    fine-tuned rows' points. Below a curve is a gain, on or above it is what cooling buys."""
    from gmrl.core.plots import plt, save_figure

    fig, axes = plt.subplots(1, len(AXES), figsize=(4.2 * len(AXES), 4.2), sharey=True)
    styles = {"ss": ("tab:green", "s"), "pg_bleu": ("tab:purple", "^"),
              "seqgan": ("tab:red", "*")}
    for ax, axis in zip(axes, AXES, strict=True):
        for index, curve in enumerate(result["temperature_curve"].values()):
            points = [(t, p) for t, p in curve.items() if axis in p]
            ax.plot([p[axis] for _, p in points], [p["nll_oracle"] for _, p in points],
                    marker="o", color="tab:blue", alpha=0.6,
                    label="MLE at temperature 0.7-1" if index == 0 else None)
        for method, (color, marker) in styles.items():
            row = result["table"].get(method, {})
            if axis in row:
                ax.scatter(row[axis]["values"], row["nll_oracle"]["values"], color=color,
                           marker=marker, s=70, zorder=3, label=LABELS[method])
        oracle = result["table"].get("oracle", {})
        if axis in oracle:
            ax.axvline(oracle[axis]["mean"], color="grey", linestyle=":",
                       label="oracle's own samples")
        ax.set_xlabel(AXIS_LABELS[axis])
    axes[0].set_ylabel("NLL_oracle (quality; lower is better)")
    axes[0].legend(fontsize=7)
    fig.suptitle("SeqGAN oracle: each model against the MLE temperature curve, per diversity axis")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def fmt(stats: dict | None, digits: int = 3, percent: bool = False) -> str:
    if stats is None:
        return "—"
    scale, unit = (100.0, " %") if percent else (1.0, "")
    text = f"{scale * stats['mean']:.{digits}f}"
    if stats["n"] > 1:
        text += f" ± {scale * stats['std']:.{digits}f}"
    return text + unit


def markdown(result: dict, command: str) -> str:
    table = result["table"]
    seeds = sorted({s for row in table.values() for s in row.get("seeds", [])})
    lines = [HEADING, "",
             "NLL_oracle (quality, lower is better) of each model's 10,000 samples under the "
             "SeqGAN paper's own oracle LSTM, **beside** the diversity of the same samples: "
             "NLL_test (the model's NLL of 10,000 held-out oracle sequences), unigram entropy "
             "(nats), distinct-2/3, unique sequences, the share of the most common token, the "
             "share of sequences holding a run of four copies of one token, the attractor flag "
             "(a token or such runs at least 5x as common as in the oracle's own samples, and "
             "at least 1 %), and NLL_oracle without those run sequences. Paper numbers: Yu et "
             "al. (2017), Table 1 (NLL_oracle only). Mean ± std over seeds "
             f"{', '.join(str(s) for s in seeds)}.", "",
             f"Command: `{command}` — config `{result['config']}`; machine: "
             f"{machine_text(result.get('machine'))} (1-minute load average "
             f"{result.get('load', '?')} at report time; runs side by side share it, "
             "sometimes with other jobs). Single-threaded runs.", "",
             "| model | paper NLL_oracle | NLL_oracle | NLL_test | entropy | distinct-2 | "
             "distinct-3 | unique | top token | run-4 seqs | attractor | NLL_oracle w/o runs |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for method in ROWS:
        row = table.get(method)
        if row is None:
            continue
        paper = f"{PAPER[method]:.3f}" if method in PAPER else "5.75 (paper code)"
        flags = row.get("attractor")
        flag = "—" if flags is None else f"{int(sum(flags['values']))}/{flags['n']} seeds"
        lines.append(
            f"| {LABELS[method]} | {paper} | {fmt(row.get('nll_oracle'))} | "
            f"{fmt(row.get('nll_test')) if method != 'oracle' else '—'} | "
            f"{fmt(row.get('token_entropy'), 2)} | {fmt(row.get('distinct_2'))} | "
            f"{fmt(row.get('distinct_3'))} | {fmt(row.get('unique_fraction'), 3)} | "
            f"{fmt(row.get('top_token_share'), 2, True)} | {fmt(row.get('run_share'), 2, True)}"
            f" | {flag} | {fmt(row.get('nll_oracle_without_runs'))} |")
    lines += ["", "Quality at equal diversity: each fine-tuned model's NLL_oracle against the "
              "MLE model's temperature curve (temperatures "
              f"{', '.join(sorted({t for c in result['temperature_curve'].values() for t in c}, key=float))}"  # noqa: E501
              ") at the same value of each diversity axis. Below the curve is a gain that "
              "cooling the MLE model does not buy; 'outside' means the curve does not reach "
              "that diversity.", "",
              "| model | " + " | ".join(AXIS_LABELS[a].split(" (")[0] for a in AXES) + " |",
              "|---|" + "---|" * len(AXES)]
    for method in COMPARED:
        cells = []
        for axis in AXES:
            entries = [v[method][axis] for v in result["quality_diversity"].values()
                       if method in v and axis in v[method]]
            if not entries:
                cells.append("—")
                continue
            below = sum(e["below_curve"] is True for e in entries)
            outside = sum(e["below_curve"] is None for e in entries)
            gaps = [e["point"][1] - e["curve_nll_oracle"] for e in entries
                    if e["curve_nll_oracle"] is not None]
            text = f"below on {below}/{len(entries)}"
            if gaps:
                text += f" (gap {statistics.fmean(gaps):+.3f})"
            if outside:
                text += f", {outside} outside"
            cells.append(text)
        lines.append(f"| {LABELS[method]} | " + " | ".join(cells) + " |")
    lines += ["", "Verdict, per model (from the figures above):", ""]
    lines += [f"- {line}" for line in verdict_lines(result)]
    gains = result.get("gains", {})
    if gains:
        lines += ["", f"Targets: SeqGAN NLL_oracle <= {TARGET_NLL:.2f}, at least "
                  f"{TARGET_GAIN:.2f} below gmrl's own MLE, and unigram entropy no more than "
                  f"{TARGET_ENTROPY_GAP} below the MLE model cooled to the same NLL_oracle "
                  f"(RankGAN, beyond the paper: {RANKGAN:.3f}):", ""]
        for s, g in gains.items():
            gap = g["entropy_gap"]
            entropy = ("outside the temperature curve" if gap is None else
                       f"entropy {gap:+.3f} vs the matched MLE "
                       f"({'met' if g['entropy_met'] else 'not met'})")
            lines.append(
                f"- seed {s}: SeqGAN {g['seqgan']:.3f} vs MLE {g['mle']:.3f} → "
                f"{g['seqgan'] - g['mle']:+.3f} ({'met' if g['gain_met'] else 'not met'}); "
                f"<= {TARGET_NLL:.2f}: {'met' if g['absolute_met'] else 'not met'}; {entropy}")
    for s, t in result["timing"].items():
        lines.append(f"- seed {s} cost: {t.get('time/total_cpu_s', float('nan')) / 60:.1f} "
                     f"CPU-min, {t.get('time/total_wall_s', float('nan')) / 60:.1f} min wall "
                     f"(MLE phase {t.get('time/mle_cpu_s', float('nan')) / 60:.1f} CPU-min)")
    for s, r in result.get("unfinished", {}).items():
        reach = r.get("reached")
        lines.append(f"- seed {s}: unfinished at report time"
                     + (f", reached step {reach['step']} ({reach['phase']}) with NLL_oracle "
                        f"{reach['nll_oracle']:.3f}" if reach else ""))
    lines += ["", "Samples: the 10,000 scored sequences of every row and seed are kept as "
              "`benchmarks/results/seqgan_tokens/<variant>/seed<N>/<row>.txt.gz` (one sequence "
              "of space-separated ids per line); `gmrl bench seqgan --rescore` scores them from "
              "scratch. Raw figures: `benchmarks/results/seqgan_oracle.json`; plot: "
              "`benchmarks/results/seqgan_oracle_quality_diversity.png`; NLL_oracle against "
              "epochs: `benchmarks/results/seqgan_oracle_nll_curve_seed<N>.png`. Notes and the "
              "paper protocol run: docs/seqgan.md.", ""]
    return "\n".join(lines)


def verdict_lines(result: dict) -> list[str]:
    """One sentence per fine-tuned model: reward hacking when the attractor check fires on
    any seed, otherwise on which diversity axes its NLL_oracle beats the temperature curve."""
    out = []
    for method in COMPARED:
        row = result["table"].get(method)
        if row is None:
            continue
        label, quality = LABELS[method], row["nll_oracle"]["mean"]
        flagged = int(sum(row["attractor"]["values"])) if "attractor" in row else 0
        if flagged:
            out.append(
                f"**{label}: reward hacking.** Its NLL_oracle {quality:.3f} comes with the "
                f"attractor flag on {flagged}/{row['attractor']['n']} seeds: "
                f"{100 * row['top_token_share']['mean']:.1f} % of its tokens are one token and "
                f"{100 * row['run_share']['mean']:.1f} % of its samples hold a run of four "
                "copies of one token (the oracle's own samples: "
                f"{100 * result['table']['oracle']['top_token_share']['mean']:.2f} % and "
                f"{100 * result['table']['oracle']['run_share']['mean']:.2f} %); without those "
                f"samples it scores {row['nll_oracle_without_runs']['mean']:.3f}, and its "
                f"unigram entropy is {row['token_entropy']['mean']:.2f} nats against the "
                f"oracle's {result['table']['oracle']['token_entropy']['mean']:.2f}.")
            continue
        wins, losses, mixed, beyond = [], [], [], []
        for axis in AXES:
            entries = [v[method][axis] for v in result["quality_diversity"].values()
                       if method in v and axis in v[method]]
            name = AXIS_LABELS[axis].split(" (")[0]
            below = sum(e["below_curve"] is True for e in entries)
            outside = sum(e["below_curve"] is None for e in entries)
            if not entries:
                continue
            if below == len(entries):
                wins.append(name)
            elif below == 0 and outside < len(entries):
                losses.append(name)
            elif outside == len(entries):
                beyond.append(name)
            else:
                mixed.append(f"{name} (below on {below}/{len(entries)}, {outside} outside "
                             "the curve)")
        text = f"**{label}: "
        if wins and not losses:
            text += "a real gain.** No attractor; below the MLE temperature curve at equal "
            text += f"{', '.join(wins)} on every seed."
        elif wins:
            text += f"a gain at equal {', '.join(wins)} only.** No attractor; its NLL_oracle "
            text += (f"{quality:.3f} is below the MLE temperature curve at equal "
                     f"{', '.join(wins)} on every seed, but not at equal {', '.join(losses)}: "
                     "measured by those, a cooled MLE model does as well or better.")
        else:
            text += (f"no gain.** NLL_oracle {quality:.3f} is not below the MLE temperature "
                     "curve on any seed at equal " + ", ".join(losses) + ".")
        if beyond:
            text += (" At equal " + ", ".join(beyond) + " the curve does not reach its "
                     "diversity on any seed: no like-for-like comparison.")
        if mixed:
            text += " Mixed: " + "; ".join(mixed) + "."
        out.append(text)
    return out


def write_section(text: str) -> None:
    """Replace (or append) only this benchmark's section of docs/BENCHMARKS.md."""
    DOC.parent.mkdir(parents=True, exist_ok=True)
    current = DOC.read_text() if DOC.is_file() else "# Benchmarks\n\nMeasured results.\n"
    if HEADING in current:
        start = current.index(HEADING)
        nxt = current.find("\n## ", start + len(HEADING))
        current = current[:start] + text + (current[nxt + 1:] if nxt != -1 else "")
    else:
        current = current.rstrip("\n") + "\n\n" + text
    DOC.write_text(current)


# ----------------------------------------------------------------------------- command line
def rescore_main(argv: Sequence[str]) -> int:
    """`--rescore [RESULTS_JSON] [--seeds S ...]`: write seqgan_rescore.json beside the file."""
    parse = argparse.ArgumentParser(description="score a results file's token files again")
    parse.add_argument("--rescore", type=Path, nargs="?", const=RESULTS_FILE,
                       metavar="RESULTS_JSON", help=f"default: {shown(RESULTS_FILE)}")
    parse.add_argument("--seeds", type=int, nargs="+", default=None,
                       help="these seeds only (default: every seed the file lists)")
    parse.add_argument("--references", type=int, default=10_000,
                       help="fresh oracle samples for the attractor check")
    args = parse.parse_args(argv)
    scores = rescore(args.rescore, args.seeds, args.references)
    target = args.rescore.with_name("seqgan_rescore.json")
    target.write_text(json.dumps(scores, indent=2) + "\n")
    print(f"wrote {target}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The harness's command line (token files and run directories beside `--out`), or
    `--rescore`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--rescore" in args:
        return rescore_main(args)
    out = harness_parser(GRID, RESULTS_FILE).parse_known_args(args)[0].out
    grid, quick = grids(Path(out))
    return harness_main(grid, args, quick=quick, default_out=RESULTS_FILE, extend=report,
                        tables=tables)


if __name__ == "__main__":
    raise SystemExit(main())
