"""SeqGAN on the paper's oracle, beside the paper's Table 1: `gmrl bench seqgan`.

Runs the `seqgan` recipe once per seed (each run measures the random generator, MLE, the MLE
model at lower sampling temperatures, scheduled sampling and SeqGAN on the same data), then
aggregates: NLL_oracle mean and spread over seeds, NLL_test, CPU and wall-clock time, and the
quality-diversity check: is SeqGAN's (NLL_test, NLL_oracle) point below the curve traced by the
MLE model sampled at temperatures 0.7-1.0? A lower NLL_oracle that sits on that curve is what a
colder MLE model gets for free, not a gain.

    gmrl bench seqgan                       # configs/seqgan/fast.yaml, seeds 0 1 2, two at a time
    gmrl bench seqgan --seeds 0 --jobs 1
    gmrl bench seqgan --report-only         # aggregate existing run directories (also partial)
    gmrl bench seqgan --quick               # CI-sized smoke run (prints its table)
    gmrl bench seqgan --quick --out-dir benchmarks/results/quick   # ... and writes JSON + plot
    gmrl bench seqgan --add-pg-bleu         # PG-BLEU from finished runs' MLE checkpoints

Run directories (resumable: an unfinished one is resumed) go to
benchmarks/results/seqgan_runs/<config>/seed<N>/. Writes benchmarks/results/seqgan_oracle.json,
benchmarks/results/seqgan_oracle_quality_diversity.png and the '## SeqGAN on the paper's oracle'
section of docs/BENCHMARKS.md.
"""

import argparse
import csv
import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "BENCHMARKS.md"
HEADING = "## SeqGAN on the paper's oracle"
PAPER = {"random": 10.310, "mle": 9.038, "ss": 8.985, "pg_bleu": 8.946, "seqgan": 8.736}
RANKGAN = 8.247  # Lin et al. 2017, the same oracle experiment
TARGET_NLL, TARGET_GAIN = 8.70, 0.30  # issue targets: SeqGAN NLL_oracle, and below own MLE
LABELS = {"random": "Random", "mle": "MLE", "ss": "Scheduled sampling", "pg_bleu": "PG-BLEU",
          "seqgan": "SeqGAN"}


def run_dir_for(root: Path, seed: int) -> Path | None:
    dirs = sorted((root / f"seed{seed}").glob("seqgan-*"))
    return dirs[-1] if dirs else None


def launch(config: Path, seed: int, root: Path, nice: int) -> subprocess.Popen:
    """Start (or resume) the recipe run for `seed` as a niced subprocess."""
    existing = run_dir_for(root, seed)
    base = ["nice", "-n", str(nice), sys.executable, "-m", "gmrl.cli", "run"]
    if existing is not None and not (existing / "summary.json").is_file():
        command = [*base, "--resume", str(existing), "-q"]
    else:
        command = [*base, str(config), f"seed={seed}", "--runs", str(root / f"seed{seed}"), "-q"]
    log = (root / f"seed{seed}.log").open("a")
    return subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def read_run(path: Path) -> dict:
    """Summary of a finished run, or the last evaluation reached by an unfinished one."""
    metrics = path / "metrics.csv"
    rows = list(csv.DictReader(metrics.open())) if metrics.is_file() else []
    evals = [r for r in rows if r.get("eval/nll_oracle")]
    config = yaml.safe_load((path / "config.yaml").read_text())
    out: dict = {"run_dir": str(path.relative_to(ROOT)), "finished": False, "config": config}
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
        extra = path / "pg_bleu.json"  # from --add-pg-bleu, for runs made without PG-BLEU
        if extra.is_file() and "pg_bleu/nll_oracle" not in out["summary"]:
            out["summary"].update(json.loads(extra.read_text())["results"])
            out["pg_bleu_added"] = True
    return out


def add_pg_bleu(path: Path, config_file: Path) -> None:
    """Run PG-BLEU from a finished run's MLE model (its last checkpoint's MLE snapshot) on the
    run's own data, with `config_file`'s PG-BLEU settings; writes `<run>/pg_bleu.json`."""
    import time

    import torch

    from gmrl.core.checkpoint import load_state
    from gmrl.core.device import torch_threads
    from gmrl.recipes.seqgan import Config, oracle_data, pg_bleu_baseline
    from gmrl.sequence.baselines import build_generator
    from gmrl.sequence.data import oracle_path
    from gmrl.sequence.diversity import copy_rate
    from gmrl.sequence.generation import sample_sequences
    from gmrl.sequence.oracle import OracleLSTM

    run_config = Config(**yaml.safe_load((path / "config.yaml").read_text()))
    wanted = yaml.safe_load(config_file.read_text()).get("baselines", {})
    run_config.baselines.pg_bleu_rounds = int(wanted.get("pg_bleu_rounds", 0))
    if run_config.baselines.pg_bleu_rounds < 1:
        raise SystemExit(f"{config_file} sets no baselines.pg_bleu_rounds")
    latest = json.loads((path / "checkpoints" / "latest.json").read_text())
    state, _ = load_state(path / "checkpoints" / latest["file"])
    gc = run_config.generator
    oracle = OracleLSTM.from_npz(oracle_path())
    model = build_generator(oracle.vocab_size, oracle.seq_len, gc.embed_dim, gc.hidden)
    model.load_state_dict(state["mle_snapshot"])
    train, test = oracle_data(run_config, oracle)
    started = time.process_time()
    with torch_threads(1):
        results = pg_bleu_baseline(run_config, model, oracle, train, test,
                                   torch.Generator().manual_seed(run_config.seed + 1))
    results["time/pg_bleu_cpu_s"] = time.process_time() - started
    if "seqgan/copy_rate" not in json.loads((path / "summary.json").read_text()):
        model.load_state_dict(state["generator"]["model"])  # the final SeqGAN generator
        samples = sample_sequences(model, run_config.eval.final_samples,
                                   torch.Generator().manual_seed(run_config.seed + 2))
        results["seqgan/copy_rate"] = copy_rate(samples, train)
    record = {"from": str(path / "checkpoints" / latest["file"]),
              "pg_bleu_rounds": run_config.baselines.pg_bleu_rounds, "results": results}
    (path / "pg_bleu.json").write_text(json.dumps(record, indent=2) + "\n")
    print(path.name, json.dumps(results))


def spread(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1
            else 0.0, "min": min(values), "max": max(values), "n": len(values),
            "values": values}


def curve_at(points: list[tuple[float, float]], nll_test: float) -> float | None:
    """NLL_oracle of the temperature curve at `nll_test` (linear interpolation), None outside."""
    points = sorted(points)
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x0 <= nll_test <= x1 and x1 > x0:
            return y0 + (y1 - y0) * (nll_test - x0) / (x1 - x0)
    return None


def aggregate(runs: dict[int, dict]) -> dict:
    done = {s: r["summary"] for s, r in runs.items() if r["finished"]}
    table = {}
    for method in ("random", "mle", "ss", "pg_bleu", "seqgan"):
        key = f"{method}/nll_oracle"
        seeds = [s for s, summary in done.items() if key in summary]
        if seeds:
            table[method] = {
                "nll_oracle": spread([done[s][key] for s in seeds]),
                "nll_test": spread([done[s][f"{method}/nll_test"] for s in seeds]),
                "seeds": seeds,
            }
    temps = {}
    for s, summary in done.items():
        points = {1.0: (summary["mle/nll_test"], summary["mle/nll_oracle"])}
        for key, value in summary.items():
            if key.startswith("mle_t") and key.endswith("/nll_oracle"):
                t = float(key[len("mle_t"):-len("/nll_oracle")])
                points[t] = (summary[f"mle_t{t:g}/nll_test"], value)
        temps[s] = {f"{t:g}": list(p) for t, p in sorted(points.items())}
    verdicts: dict = {}
    for s, summary in done.items():
        curve = [tuple(p) for p in temps[s].values()]
        for method in ("seqgan", "pg_bleu"):
            if f"{method}/nll_oracle" not in summary:
                continue
            at = curve_at(curve, summary[f"{method}/nll_test"])
            point = [summary[f"{method}/nll_test"], summary[f"{method}/nll_oracle"]]
            entry = {"point": point, "curve_nll_oracle_at_same_nll_test": at,
                     "below_curve": None if at is None else point[1] < at}
            if method == "seqgan":
                verdicts[s] = {"seqgan": point, **{k: v for k, v in entry.items()
                                                   if k != "point"}}
            else:
                verdicts.setdefault(s, {})["pg_bleu"] = entry
    copies = {s: {k.split("/")[0]: v for k, v in summary.items() if k.endswith("/copy_rate")}
              for s, summary in done.items()}
    gains = {s: {"seqgan": summary["seqgan/nll_oracle"], "mle": summary["mle/nll_oracle"],
                 "gain_met": summary["mle/nll_oracle"] - summary["seqgan/nll_oracle"]
                 >= TARGET_GAIN,
                 "absolute_met": summary["seqgan/nll_oracle"] <= TARGET_NLL}
             for s, summary in done.items() if "seqgan/nll_oracle" in summary}
    timing = {s: {k: v for k, v in summary.items() if k.startswith("time/")}
              for s, summary in done.items()}
    return {"table": table, "temperature_curve": temps, "quality_diversity": verdicts,
            "gains": gains, "copy_rate": copies, "timing": timing}


def plot(result: dict, path: Path) -> None:
    from gmrl.core.plots import plt, save_figure

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for index, curve in enumerate(result["temperature_curve"].values()):
        items = sorted(curve.items(), key=lambda kv: float(kv[0]))
        xs, ys = [p[0] for _, p in items], [p[1] for _, p in items]
        ax.plot(xs, ys, marker="o", color="tab:blue", alpha=0.7,
                label="MLE at temperature 0.7-1.0" if index == 0 else None)
        for t, (x, y) in items:
            ax.annotate(t, (x, y), fontsize=7, textcoords="offset points", xytext=(3, 3))
    seqgan_points = [v["seqgan"] for v in result["quality_diversity"].values() if "seqgan" in v]
    for index, point in enumerate(seqgan_points):
        ax.scatter(*point, color="tab:red", marker="*", s=120, zorder=3,
                   label="SeqGAN" if index == 0 else None)
    if "ss" in result["table"]:
        ss = result["table"]["ss"]
        ax.scatter(ss["nll_test"]["values"], ss["nll_oracle"]["values"], color="tab:green",
                   marker="s", label="scheduled sampling")
    if "pg_bleu" in result["table"]:
        pg = result["table"]["pg_bleu"]
        ax.scatter(pg["nll_test"]["values"], pg["nll_oracle"]["values"], color="tab:purple",
                   marker="^", label="PG-BLEU")
    ax.set_xlabel("NLL_test (generator NLL of held-out oracle data; diversity)")
    ax.set_ylabel("NLL_oracle (oracle NLL of samples; quality)")
    ax.set_title("SeqGAN vs the MLE temperature curve (lower-left is better)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


def fmt(stats: dict | None) -> str:
    if stats is None:
        return "—"
    if stats["n"] == 1:
        return f"{stats['mean']:.3f} (1 seed)"
    return f"{stats['mean']:.3f} ± {stats['std']:.3f} (n={stats['n']})"


def markdown(result: dict, command: str) -> str:
    table = result["table"]
    lines = [HEADING, "",
             "NLL_oracle (lower is better) of each generator's samples under the SeqGAN paper's "
             "own oracle LSTM; NLL_test is the generator's NLL of 10,000 held-out oracle "
             "sequences. Paper numbers are Yu et al. (2017), Table 1 (100,000 samples, full "
             "protocol).", "",
             f"Command: `{command}` — config `{result['config']}`; machine: "
             f"{result['machine']} (2-core x86_64 CPU, no GPU; 1-minute load average "
             f"{result.get('load', '?')} at report time). Runs are single-threaded; CPU seconds "
             "(process time) are the fairer cost measure when other jobs share the CPU.", "",
             "| method | paper NLL_oracle | gmrl NLL_oracle | gmrl NLL_test |",
             "|---|---|---|---|"]
    for method in ("random", "mle", "ss", "pg_bleu", "seqgan"):
        row = table.get(method)
        lines.append(f"| {LABELS[method]} | {PAPER[method]:.3f} | "
                     f"{fmt(row['nll_oracle']) if row else 'not run'} | "
                     f"{fmt(row['nll_test']) if row else '—'} |")
    added = [str(s) for s, r in result.get("runs", {}).items() if r.get("pg_bleu_added")]
    if added:
        lines += ["", f"PG-BLEU and the copy rates of seed(s) {', '.join(added)} were added "
                  "after those runs, from each run's own MLE model and data (the other seeds "
                  "ran them in the recipe): `gmrl bench seqgan --add-pg-bleu` (settings from "
                  f"`{result['config']}`: `baselines.pg_bleu_rounds`, the adversarial batch, "
                  "rollouts and learning rate)."]
    temps = sorted({t for curve in result["temperature_curve"].values() for t in curve},
                   key=float)
    lines += ["", f"Quality-diversity check (the MLE model sampled at temperatures "
              f"{', '.join(temps)}; SeqGAN's point must lie below this curve for a real "
              "gain):", ""]
    for s, v in result["quality_diversity"].items():
        if "seqgan" not in v:
            continue
        at = v["curve_nll_oracle_at_same_nll_test"]
        where = ("outside the curve's NLL_test range: no like-for-like comparison" if at is None
                 else f"curve gives {at:.3f} at the same NLL_test → SeqGAN is "
                 f"**{'below' if v['below_curve'] else 'not below'}** the curve "
                 f"(by {abs(v['seqgan'][1] - at):.3f})")
        lines.append(f"- seed {s}: SeqGAN (NLL_test {v['seqgan'][0]:.3f}, NLL_oracle "
                     f"{v['seqgan'][1]:.3f}); {where}")
    for s, v in result["quality_diversity"].items():
        pg = v.get("pg_bleu")
        if pg and pg["curve_nll_oracle_at_same_nll_test"] is not None:
            at = pg["curve_nll_oracle_at_same_nll_test"]
            lines.append(f"- seed {s}: PG-BLEU (NLL_test {pg['point'][0]:.3f}, NLL_oracle "
                         f"{pg['point'][1]:.3f}); curve gives {at:.3f} → "
                         f"**{'below' if pg['below_curve'] else 'not below'}** "
                         f"(by {abs(pg['point'][1] - at):.3f})")
    copies = {s: c for s, c in result.get("copy_rate", {}).items() if c}
    if copies:
        lines += ["", "Memorisation check (share of 10,000 samples that repeat a training "
                  "sequence verbatim):", ""]
        for s, c in copies.items():
            lines.append(f"- seed {s}: " + ", ".join(
                f"{LABELS.get(m, m)} {100 * v:.1f}%" for m, v in sorted(c.items())))
    gains = result.get("gains", {})
    if gains:
        lines += ["", f"Targets: SeqGAN NLL_oracle <= {TARGET_NLL:.2f} and at least "
                  f"{TARGET_GAIN:.2f} below gmrl's own MLE (RankGAN, beyond the paper: "
                  f"{RANKGAN:.3f}):", ""]
        for s, g in gains.items():
            lines.append(
                f"- seed {s}: SeqGAN {g['seqgan']:.3f} vs MLE {g['mle']:.3f} → "
                f"{g['seqgan'] - g['mle']:+.3f} ({'met' if g['gain_met'] else 'not met'}); "
                f"<= {TARGET_NLL:.2f}: {'met' if g['absolute_met'] else 'not met'}; "
                f"{g['seqgan'] - RANKGAN:+.3f} from RankGAN")
    for s, t in result["timing"].items():
        lines.append(f"- seed {s} cost: {t.get('time/total_cpu_s', float('nan')) / 60:.1f} "
                     f"CPU-min, {t.get('time/total_wall_s', float('nan')) / 60:.1f} min wall "
                     f"(MLE phase {t.get('time/mle_cpu_s', float('nan')) / 60:.1f} CPU-min)")
    for s, r in result.get("unfinished", {}).items():
        reach = r.get("reached")
        lines.append(f"- seed {s}: unfinished at report time"
                     + (f", reached step {reach['step']} ({reach['phase']}) with NLL_oracle "
                        f"{reach['nll_oracle']:.3f}" if reach else ""))
    lines += ["", "Raw figures: `benchmarks/results/seqgan_oracle.json`; plot: "
              "`benchmarks/results/seqgan_oracle_quality_diversity.png`; NLL_oracle against "
              "epochs: "
              "`benchmarks/results/seqgan_oracle_nll_curve_seed<N>.png`. Notes and the paper "
              "protocol run: docs/seqgan.md.", ""]
    return "\n".join(lines)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("configs/seqgan/fast.yaml"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (one core each)")
    parser.add_argument("--nice", type=int, default=10)
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--quick", action="store_true", help="CI smoke run (quick.yaml, 1 seed)")
    parser.add_argument("--add-pg-bleu", action="store_true",
                        help="run PG-BLEU from finished runs that lack it, then report")
    parser.add_argument("--out-dir", type=Path, default=None,
                        help="write seqgan_oracle.json and plots here instead of "
                        "benchmarks/results/ (docs/BENCHMARKS.md is then left alone)")
    args = parser.parse_args()
    if args.quick:
        args.config, args.seeds = Path("configs/seqgan/quick.yaml"), [0]
    root = RESULTS / "seqgan_runs" / args.config.stem
    root.mkdir(parents=True, exist_ok=True)
    if args.add_pg_bleu:
        for seed in args.seeds:
            path = run_dir_for(root, seed)
            if path is None or not (path / "summary.json").is_file():
                continue
            summary = json.loads((path / "summary.json").read_text())
            if "pg_bleu/nll_oracle" not in summary and not (path / "pg_bleu.json").is_file():
                add_pg_bleu(path, ROOT / args.config)
    elif not args.report_only:
        pending = list(args.seeds)
        active: list[subprocess.Popen] = []
        while pending or active:
            while pending and len(active) < args.jobs:
                active.append(launch(ROOT / args.config, pending.pop(0), root, args.nice))
            active[0].wait()
            active = [p for p in active if p.poll() is None]
    runs = {s: read_run(d) for s in args.seeds if (d := run_dir_for(root, s)) is not None}
    result = aggregate(runs)
    result["config"] = str(args.config)
    result["machine"] = f"{platform.machine()} {platform.processor() or ''}".strip()
    result["paper"] = PAPER
    result["load"] = f"{os.getloadavg()[0]:.1f}"
    result["runs"] = runs
    result["unfinished"] = {s: r for s, r in runs.items() if not r["finished"]}
    command = "gmrl bench seqgan " + " ".join(sys.argv[1:])
    result["command"] = command.strip()
    if args.quick and args.out_dir is None:
        print(json.dumps(result["table"], indent=2))
        return
    out = args.out_dir if args.out_dir is not None else RESULTS
    out.mkdir(parents=True, exist_ok=True)
    (out / "seqgan_oracle.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    if result["temperature_curve"]:
        plot(result, out / "seqgan_oracle_quality_diversity.png")
    for seed, info in runs.items():  # each run's NLL_oracle-vs-epochs figure, kept beside the JSON
        figure = ROOT / info["run_dir"] / "plots" / "nll_oracle.png"
        if figure.is_file():
            shutil.copyfile(figure, out / f"seqgan_oracle_nll_curve_seed{seed}.png")
    if args.out_dir is not None:
        print(json.dumps(result["table"], indent=2))
        return
    write_section(markdown(result, result["command"]))
    print(markdown(result, result["command"]))


if __name__ == "__main__":
    main()
