"""Markdown tables from each benchmark's JSON (or captured output), for `gmrl bench all`.

One function per benchmark, each `(data, log) -> list of Markdown lines`: `data` is the parsed
JSON the script wrote (None when it writes none) and `log` its captured stdout. They read only
the summary figures the scripts already compute, so a table never invents a number.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

TableFn = Callable[[Any, str], list[str]]


def fmt(value: Any, spec: str = "{:.3g}") -> str:
    """A number for a table cell; `–` for a missing figure, text as it is."""
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if value != value:  # NaN
        return "–"
    return spec.format(value)


def spread(stats: Mapping[str, Any] | None, spec: str = "{:.3g}") -> str:
    """`median [min, max]` from a {median, min, max} mapping (or `–`)."""
    if not stats or stats.get("median") is None:
        return "–"
    low, high = stats.get("min"), stats.get("max")
    if low is None or high is None or low == high:
        return fmt(stats["median"], spec)
    return f"{fmt(stats['median'], spec)} [{fmt(low, spec)}, {fmt(high, spec)}]"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A GitHub Markdown table (pipes in cells escaped)."""
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return [line(header), "|" + "---|" * len(header), *(line(r) for r in rows)]


def worldmodel(data: Any, log: str) -> list[str]:
    """worldmodel_vs_sb3.json: real env steps and seconds to threshold, gmrl vs SB3, per env."""
    rows = []
    for env, entry in data.items():
        if not isinstance(entry, dict) or "threshold" not in entry:
            continue
        for agent in ("gmrl", "sb3"):
            if agent not in entry:
                continue
            r = entry[agent]
            name = "gmrl world model" if agent == "gmrl" else f"SB3 {entry.get('sb3_algo', '')}"
            rows.append([env, name, f"{r['seeds_reached']}/{r['seeds_run']}",
                         fmt(r.get("steps_median"), "{:,.0f}"),
                         fmt(r.get("seconds_median"), "{:.0f}"),
                         fmt(entry.get("max_steps", {}).get(agent), "{:,}")])
    return markdown_table(["env", "agent", "reached threshold", "real steps to threshold "
                           "(median)", "seconds (median)", "step cap"], rows)


def _steps_cell(cell: Mapping[str, Any] | None) -> str:
    """Median real steps to threshold ("> budget" when the median seed never got there)."""
    if not cell:
        return "–"
    median = cell.get("steps_median")
    text = f"> {cell['budget']:,}" if median is None else f"{median:,.0f}"
    return f"{text} ({cell['reached']}/{cell['seeds']})"


def suite_rows(data: Any) -> Any:
    """The world-model suite's per-task rows: the harness summary's `suite` (written by
    benchmarks/worldmodel_suite.py since it runs on the harness), or the whole JSON as the
    pre-harness script wrote it."""
    if isinstance(data, dict) and isinstance(data.get("suite"), dict):
        return data["suite"]
    return data


def worldmodel_suite(data: Any, log: str) -> list[str]:
    """worldmodel_suite.json: per task, the default config vs the SB3 peer, steps to threshold
    ("> budget" when the median seed never reached it), speed-up, the dream-mode row, best
    return, seconds, ms/step."""

    rows = []
    for task, row in suite_rows(data).items():
        if not isinstance(row, dict) or "threshold" not in row:
            continue
        g, p = row.get("gmrl") or {}, row.get("sb3") or {}
        if not (g or p or row.get("gmrl_dream")):  # a task not run (e.g. in quick mode)
            continue
        rows.append([
            task, fmt(row["threshold"], "{:g}"), _steps_cell(g),
            f"{p.get('algo', '')} {_steps_cell(p)}".strip(),
            fmt(row.get("speedup"), "{:.1f}x") if "speedup_at_least" not in row
            else f"> {row['speedup_at_least']:.0f}x",
            _steps_cell(row.get("gmrl_dream")),
            fmt(g.get("best_return_median"), "{:.1f}"), fmt(p.get("best_return_median"), "{:.1f}"),
            fmt(g.get("seconds_median"), "{:.0f}"), fmt(p.get("seconds_median"), "{:.0f}"),
            fmt(g.get("plan_ms_median"), "{:.1f}"), fmt(p.get("plan_ms_median"), "{:.1f}"),
        ])
    return markdown_table(
        ["task", "threshold", "gmrl default: steps (seeds reached)", "SB3 peer: steps",
         "speed-up", "gmrl dream mode: steps", "gmrl best return", "peer best return",
         "gmrl s", "peer s", "gmrl ms/step", "peer ms/step"], rows)


def worldmodel_ablations(data: Any) -> list[str]:
    """worldmodel_suite.json: each ablation (the default with one mechanism off) beside the
    default on the tasks it was run on; empty when no ablation was run."""
    rows = []
    for task, row in suite_rows(data).items():
        if not isinstance(row, dict):
            continue
        default = row.get("gmrl") or {}
        for agent, cell in row.items():
            # every agent cell beyond the default, its peer and dream mode is an ablation
            if isinstance(cell, dict) and agent not in ("gmrl", "sb3", "gmrl_dream", "gmrl_v2"):
                rows.append([
                    task, agent, _steps_cell(default), _steps_cell(cell),
                    fmt(default.get("best_return_median"), "{:.1f}"),
                    fmt(cell.get("best_return_median"), "{:.1f}"),
                ])
    if not rows:
        return []
    return markdown_table(
        ["task", "ablation", "default: steps (seeds reached)", "ablation: steps",
         "default best return", "ablation best return"], rows)


def _per_seed(cell: dict[str, Any]) -> str:
    """Steps to the threshold of every seed ("-" for a seed that never reached it)."""
    if not cell:
        return "not run"
    steps = ", ".join("-" if s is None else f"{s:,}" for s in cell["steps"])
    return f"{steps} (budget {cell['budget']:,})"


def worldmodel_v2(data: Any) -> list[str]:
    """worldmodel_suite.json: the v2 agent beside v1 and the SB3 peer, every seed; whether v2
    fell back after reaching; its per-step costs; its termination precision/recall on held-out
    episodes at the last evaluation. Empty when v2 was not run."""
    rows = []
    for task, row in suite_rows(data).items():
        if not isinstance(row, dict) or not row.get("gmrl_v2"):
            continue
        v2, v1, peer = row["gmrl_v2"], row.get("gmrl") or {}, row.get("sb3") or {}
        falls = [f for f in v2.get("fell_back", []) if f is not None]
        speedup = (None if v2["steps_median"] is None or peer.get("steps_median") is None
                   else peer["steps_median"] / v2["steps_median"])
        rows.append([
            task, fmt(row["threshold"], "{:g}"), _per_seed(v2), _per_seed(v1),
            f"{peer.get('algo', '')} {_per_seed(peer)}".strip(),
            fmt(speedup, "{:.1f}x"),
            f"{sum(falls)} of {len(falls)}" if falls else "-",
            ", ".join(f"{r:.0f}" for r in v2.get("final_returns", [])),
            f"{fmt(v2.get('plan_ms_median'), '{:.0f}')} + "
            f"{fmt(v2.get('update_ms_median'), '{:.0f}')}",
            fmt(peer.get("plan_ms_median"), "{:.1f}"),
            f"{fmt(v2.get('termination_precision_median'), '{:.2f}')} / "
            f"{fmt(v2.get('termination_recall_median'), '{:.2f}')}",
        ])
    if not rows:
        return []
    return markdown_table(
        ["task", "threshold", "v2: steps per seed", "v1: steps per seed",
         "SB3 peer: steps per seed", "v2 speed-up (medians)", "v2 fell back after reaching",
         "v2 last returns",
         "v2 ms/step (act + update)", "peer ms/step", "v2 termination precision / recall"],
        rows)


def worldmodel_dmc(data: Any, log: str) -> list[str]:
    """worldmodel_dmc.json: each seed's return at every evaluation point, per task and agent,
    beside the published 100k-step returns."""
    rows = []
    for task, row in data.get("dmc", {}).items():
        published = "; ".join(f"{name} {', '.join(f'{v:.0f}' for v in values)}"
                              for name, values in row["published_100k"].items())
        for agent, cell in row.items():
            if agent in ("published_100k", "target"):
                continue
            points = "; ".join(
                f"{int(p):,}: {', '.join('-' if v is None else f'{v:.0f}' for v in values)}"
                for p, values in cell["returns"].items())
            rows.append([task, agent, points, published])
    return markdown_table(["task", "agent", "return per seed at each real-step point",
                           "published at 100k (per seed)"], rows)


def worldmodel_pixels(data: Any, log: str) -> list[str]:
    """worldmodel_pixels.json: final and best return, real steps, random policy."""
    return markdown_table(
        ["final return", "best return", "real env steps", "random policy (same env)",
         "seeds", "overrides"],
        [[spread(data["final_return"], "{:.1f}"), spread(data["best_return"], "{:.1f}"),
          spread(data["real_env_steps"], "{:,.0f}"), fmt(data["random_same_env"], "{:.1f}"),
          str(len(data["runs"])), " ".join(data.get("overrides", [])) or "none"]],
    )


def rl_policy_gradient(data: Any, log: str) -> list[str]:
    """rl_policy_gradient.json: env steps and CPU seconds to solve CartPole, per agent (the
    harness's summary, or the pre-harness script's `{agent: {solved, steps, cpu_s}}`)."""
    if "benchmark" in data:  # written by gmrl.bench.harness
        return harness_summary(data["summary"])
    return markdown_table(
        ["agent", "solved", "env steps (median [range])", "CPU s (median)"],
        [[agent, s["solved"], spread(s["steps"], "{:,.0f}"), fmt(s["cpu_s"]["median"], "{:.1f}")]
         for agent, s in data["summary"].items()],
    )


def generative_zoo(data: Any, log: str) -> list[str]:
    """generative_zoo.json: MMD trained vs untrained, held-out log-likelihood vs a Gaussian."""
    rows = []
    for key, r in data["results"].items():
        model, dataset = key.split("/", 1)
        rows.append([dataset, model, spread(r["mmd"]), spread(r["mmd_untrained"]),
                     spread(r.get("test_log_likelihood")), spread(r["gaussian_log_likelihood"]),
                     spread(r["train_seconds"], "{:.0f}")])
    return markdown_table(["data", "model", "MMD trained", "MMD untrained", "held-out log-lik",
                           "Gaussian log-lik", "train s"], rows)


def seqgan(data: Any, log: str) -> list[str]:
    """seqgan_oracle.json: NLL_oracle per model beside NLL_test, the samples' diversity and the
    attractor flag, and the paper's NLL_oracle."""
    paper = data.get("paper", {})

    def mean(row: Mapping[str, Any], key: str, spec: str = "{:.3f}") -> str:
        return fmt(row[key]["mean"], spec) if key in row else "–"

    rows = [[method, mean(r, "nll_oracle"), mean(r, "nll_test"), mean(r, "token_entropy"),
             mean(r, "distinct_2"), mean(r, "unique_fraction"),
             fmt(sum(r["attractor"]["values"]), "{:.0f}") if "attractor" in r else "–",
             fmt(paper.get(method), "{:.3f}"), str(len(r["seeds"]))]
            for method, r in data["table"].items()]
    return markdown_table(["model", "NLL_oracle (mean)", "NLL_test (mean)", "entropy (nats)",
                           "distinct-2", "unique", "seeds with attractor",
                           "paper NLL_oracle (full size)", "seeds"], rows)


def tuner_kl(data: Any, log: str) -> list[str]:
    """tuner_kl.json: tuned reward beside KL, entropy, distinct-2, unique and the attractor
    flag, per estimator / KL weight."""
    rows = [[variant, spread(r.get("tuned/reward")), spread(r.get("tune/kl")),
             spread(r.get("tuned/token_entropy")), spread(r.get("tuned/distinct_2")),
             spread(r.get("tuned/unique")), f"{r['attractor_seeds']}/{r['seeds']}",
             f"{r['stopped_early']}/{r['seeds']}"]
            for variant, r in data["table"].items()]
    return markdown_table(["variant", "reward", "KL (nats/seq)", "entropy (nats)", "distinct-2",
                           "unique", "attractor (seeds)", "stopped by KL guard"], rows)


MUSIC_ROWS = ("repeated_notes_pct", "not_in_key_pct", "tonic_start_pct", "leaps_resolved_pct",
              "notes_in_motif_pct", "log_p", "unique_fraction")


def music(data: Any, log: str) -> list[str]:
    """music/rltuner.json: a few Table 1 rows, log p and uniqueness per model."""
    table = data["table"]
    models = list(table)
    rows = [[row, *(spread(table[m].get(row)) for m in models)] for row in MUSIC_ROWS]
    return markdown_table(["row", *models], rows)


def synthetic_markdown(results: Mapping[str, Any]) -> list[str]:
    """The synthetic benchmark's `results` (per env and variant, benchmarks/synthetic_vs_sac.py's
    `summarise`) as one Markdown table per env, the one docs/BENCHMARKS.md quotes."""
    def cell(stats: Mapping[str, Any] | None, spec: str = "{:.0f}") -> str:
        if not stats or stats.get("median") is None:
            return "–"
        low, high = stats["range"]
        return f"{spec.format(stats['median'])} [{spec.format(low)}, {spec.format(high)}]"

    lines: list[str] = []
    for env, rows in results.items():
        table = []
        for variant, row in rows.items():
            if variant == "threshold":
                continue
            everyone = row["steps_to_threshold_all_seeds_median"]
            table.append([
                variant, f"{row['seeds_reached']}/{row['seeds']}",
                "never" if everyone is None else f"{everyone:.0f}",
                cell(row["steps_to_threshold"]), cell(row.get("return_at_1000")),
                cell(row.get("return_at_2000")), cell(row["seconds"]),
                cell(row.get("generator_share_of_time"), "{:.2f}"),
                cell(row.get("synthetic_classifier_accuracy"), "{:.2f}")])
        lines += [f"**{env}** (threshold {rows['threshold']:g})", "", *markdown_table(
            ["variant", "seeds reached", "steps to threshold: median of all seeds (unreached = "
             "never)", "of those reached: median [range]", "return at 1k", "return at 2k",
             "wall-clock s", "generator share", "classifier acc."], table), ""]
    return lines


def synthetic_vs_sac(data: Any, log: str) -> list[str]:
    """synthetic_vs_sac.json: per env and variant, steps to threshold, returns, cost, fidelity."""
    return synthetic_markdown(data["results"])


def synthetic_augmentation(data: Any, log: str) -> list[str]:
    """synthetic_augmentation.json: held-out normalised MSE per real-data size and multiple."""
    rows = []
    for env, sizes in data["normalised_mse"].items():
        for n, multiples in sizes.items():
            for k, stats in multiples.items():
                rows.append([env, n, k, spread(stats, "{:.4f}")])
    return markdown_table(["env", "real transitions", "synthetic multiple",
                           "held-out MSE / variance"], rows)


def harness_summary(summary: dict[str, Any]) -> list[str]:
    """The summary as one Markdown table: per task and agent, seeds reached, steps to the
    threshold (median of all seeds; of those reached, median [range]), training seconds and
    ms per real step (median [range])."""
    rows = []
    for task, row_of_task in summary.items():
        for agent, row in row_of_task.items():
            if agent == "threshold":
                continue
            everyone = row["steps_all_seeds_median"]
            rows.append([task, agent, row["solved"],
                         f"> {row['budget']:,}" if everyone is None else fmt(everyone, "{:,.0f}"),
                         spread(row["steps_to_threshold"], "{:,.0f}"),
                         spread(row["train_seconds"], "{:.1f}"),
                         spread(row["ms_per_step"], "{:.2f}")])
    return markdown_table(["task", "agent", "reached", "steps to threshold (all seeds)",
                           "steps, seeds reached", "train s", "ms / step"], rows)


def function_summary(summary: dict[str, Any], show: Sequence[str] = ()) -> list[str]:
    """A function grid's summary as one Markdown table: per variant, the seeds, the metrics
    named in `show` (default: the first four recorded) and the wall-clock seconds, each
    median [min, max] over seeds."""
    names = list(show) or list(dict.fromkeys(
        name for row in summary.values() for name in row["metrics"]))[:4]
    rows = [[variant, str(row["seeds"]), *(spread(row["metrics"].get(n), "{:.4g}") for n in names),
             spread(row["wall_seconds"], "{:.1f}")] for variant, row in summary.items()]
    return markdown_table(["variant", "seeds", *names, "wall s"], rows)
