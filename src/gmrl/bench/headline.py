"""docs/BENCHMARKS.md's headline table, generated from the results JSON it cites.

Each row is declared once below (`ROWS`): which JSON file, and for every figure the key path
into it; a target is a comparison of figures, so "met / not met" is computed, never typed. The
table lies between `START` and `END` in docs/BENCHMARKS.md and is rewritten by

    python -m gmrl.bench.headline            # rewrite the block from benchmarks/results/
    python -m gmrl.bench.headline --check    # exit 1 if the block differs from the JSON

and tests/bench/test_headline.py checks that the block in the docs is exactly what the JSON
gives, so a rerun that changes a figure cannot leave a stale number behind. A benchmark whose
headline has no JSON figure behind it says so in its row instead of quoting one.
"""

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gmrl.bench.docs import update_docs
from gmrl.core.errors import GmrlError

START = "<!-- headline:start -->"
END = "<!-- headline:end -->"
DOCS = Path("docs/BENCHMARKS.md")
R = "benchmarks/results/"


@dataclass(frozen=True)
class Figure:
    """One number from a results file: `label` then the value at `key` in `source`."""

    label: str
    source: str  # path from the repository root
    key: tuple[str, ...]
    spec: str = "{:,.0f}"
    missing: str = "never"  # shown for a null value (e.g. a threshold never reached)


@dataclass(frozen=True)
class Check:
    """A target: `figure op bound`, the bound a value or another figure (times `factor`, plus
    `offset`)."""

    figure: Figure
    op: str  # "<=", ">=" or "=="
    what: str  # the target's name in a partly-met verdict
    bound: "float | bool | str | Figure"
    factor: float = 1.0
    offset: float = 0.0


@dataclass(frozen=True)
class Row:
    """One benchmark's headline: its figures beside the peer's, the targets and the command."""

    name: str
    anchor: str
    target: str
    gmrl: tuple[Figure, ...]
    peer: tuple[Figure, ...]
    seeds: str
    checks: tuple[Check, ...]
    command: str
    note: str = ""  # what the figures do not say (or why there are none)


def _wm(label: str, task: str, agent: str, field: str = "steps_median",
        source: str = "worldmodel_suite.json") -> Figure:
    return Figure(label, R + source, ("suite", task, agent, field))


# v2's default config (state dynamics, an 8-step plan, value expansion 5) is recorded under this
# variant's name
_V2 = "gmrl_v2_mve5"


def _v2(label: str, task: str, field: str = "steps_median") -> Figure:
    return _wm(label, task, _V2, field, "worldmodel_v2_mve.json")


def _syn(label: str, env: str, variant: str) -> Figure:
    return Figure(label, R + "synthetic_vs_sac.json",
                  ("results", env, variant, "steps_to_threshold_all_seeds_median"))


def _seqgan(label: str, model: str, stat: str = "mean") -> Figure:
    return Figure(label, R + "seqgan_oracle.json", ("table", model, "nll_oracle", stat),
                  "{:.3f}")


def _vs(label: str, task: str, agent: str) -> Figure:
    return Figure(label, R + "worldmodel_vs_sb3.json", (task, agent, "steps_median"))


def _dmc(label: str, task: str, agent: str, point: str = "10000") -> Figure:
    return Figure(label, R + "worldmodel_dmc.json", ("dmc", task, agent, "median", point),
                  "{:.0f}")


_SWINGUP = "dm_control/cartpole-swingup-v0"
_DEFAULT_CORPORA = (("Essen", "default_essen"), ("Bach", "default_bach"),
                    ("folder", "default_folder"))


def _default(label: str, variant: str, field: str) -> Figure:
    return Figure(label, R + "music/default.json",
                  ("variants", variant, "table", "gmrl", field, "median"), "{:.3g} %")


def _music(label: str, row: str, field: str = "repeated_notes_pct") -> Figure:
    return Figure(label, R + "music/rltuner.json", ("table", row, field, "median"), "{:.3g} %")


ROWS: tuple[Row, ...] = (
    Row("World-model suite", "world-model-suite-one-default-config-vs-sb3",
        "CartPole <= 2,000 real steps to 475; fewer steps than SB3 PPO/SAC",
        (_wm("CartPole", "CartPole-v1", "gmrl"), _wm("Pendulum", "Pendulum-v1", "gmrl"),
         _wm("MountainCar", "MountainCar-v0", "gmrl"),
         _wm("MountainCarContinuous", "MountainCarContinuous-v0", "gmrl")),
        (_wm("PPO", "CartPole-v1", "sb3"), _wm("SAC", "Pendulum-v1", "sb3"),
         _wm("PPO", "MountainCar-v0", "sb3"), _wm("SAC", "MountainCarContinuous-v0", "sb3")),
        "3 per task",
        (Check(_wm("CartPole", "CartPole-v1", "gmrl"), "<=", "CartPole", 2000.0),),
        "`python benchmarks/worldmodel_suite.py --seeds 3`",
        "median real steps to threshold; 10 tasks in the section, each with its cause where "
        "not met"),
    Row("World-model agent v2", "value-expansion-by-default-5-seeds-on-six-tasks",
        "issue 26's targets (section); here: CartPole's threshold on every seed",
        (_v2("Pendulum", "Pendulum-v1"), _v2("Acrobot", "Acrobot-v1"),
         _v2("InvertedPendulum", "InvertedPendulum-v5"),
         _v2("CartPole seeds reaching it:", "CartPole-v1", "reached")),
        (_wm("v1 Pendulum", "Pendulum-v1", "gmrl"), _wm("v1 CartPole", "CartPole-v1", "gmrl")),
        "5",
        (Check(_v2("CartPole", "CartPole-v1", "reached"), ">=", "CartPole",
               _v2("", "CartPole-v1", "seeds")),),
        "`python benchmarks/worldmodel_suite.py --agents gmrl_v2_mve5 --seeds 5 --tasks "
        "CartPole-v1 Acrobot-v1 Pendulum-v1 InvertedPendulum-v5`",
        "median real steps within 5,000 (v2's default config, recorded as gmrl_v2_mve5); "
        "other tasks and costs in the section"),
    Row("DeepMind Control", "deepmind-control-tasks-v1-v2-and-sac",
        "cartpole-swingup >= 800 within 10k real steps (issue 26)",
        (_dmc("v1", _SWINGUP, "gmrl"), _dmc("v2", _SWINGUP, _V2)),
        (_dmc("SAC", _SWINGUP, "sb3"),),
        "2",
        (Check(_dmc("v1", _SWINGUP, "gmrl"), ">=", "v1", 800.0),),
        "`python benchmarks/worldmodel_dmc.py --tasks dm_control/cartpole-swingup-v0 "
        "--seeds 2 --budget 10000`",
        "median return at 10k real steps; published 100k-step returns in the section"),
    Row("World model vs SB3", "world-model-vs-sb3",
        "10x fewer real steps than PPO (CartPole), 5x fewer than SAC (Pendulum)",
        (_vs("CartPole", "CartPole-v1", "gmrl"), _vs("Pendulum", "Pendulum-v1", "gmrl")),
        (_vs("PPO", "CartPole-v1", "sb3"), _vs("SAC", "Pendulum-v1", "sb3")),
        "5",
        (Check(_vs("CartPole", "CartPole-v1", "gmrl"), "<=", "CartPole",
               _vs("", "CartPole-v1", "sb3"), 0.1),
         Check(_vs("Pendulum", "Pendulum-v1", "gmrl"), "<=", "Pendulum",
               _vs("", "Pendulum-v1", "sb3"), 0.2)),
        "`gmrl bench worldmodel --seeds 5`"),
    Row("SeqGAN on the paper's oracle", "seqgan-on-the-papers-oracle",
        "SeqGAN NLL_oracle <= 8.70 and 0.30 below gmrl's MLE (paper: 8.736, MLE 9.038)",
        (_seqgan("SeqGAN", "seqgan"), _seqgan("MLE", "mle"), _seqgan("PG-BLEU", "pg_bleu")),
        (Figure("paper SeqGAN", R + "seqgan_oracle.json", ("paper", "seqgan"), "{:.3f}"),
         Figure("paper MLE", R + "seqgan_oracle.json", ("paper", "mle"), "{:.3f}")),
        "4",
        (Check(_seqgan("SeqGAN", "seqgan"), "<=", "<= 8.70", 8.70),
         Check(_seqgan("SeqGAN", "seqgan"), "<=", "0.30 below MLE", _seqgan("", "mle"),
               offset=-0.30)),
        "`gmrl bench seqgan --seeds 4` (recorded before the script moved onto the harness, "
        "as `--seeds 0 1 2 3`)",
        "mean over seeds of the rescored samples; PG-BLEU's low NLL is collapse onto an "
        "oracle attractor, see the section"),
    Row("Pixel world model", "pixel-world-model-vae--mdn-rnn",
        "CartPole from frames: final return well above a random policy",
        (Figure("final return", R + "worldmodel_pixels.json", ("final_return", "median")),),
        (Figure("random policy", R + "worldmodel_pixels.json", ("random_same_env",),
                "{:.1f}"),),
        "3",
        (Check(Figure("final return", R + "worldmodel_pixels.json",
                      ("final_return", "median")), ">=", "475", 475.0),),
        "`gmrl bench worldmodel_pixels --seeds 3` (recorded before the script moved onto the "
        "harness)"),
    Row("Policy gradient", "policy-gradient-on-cartpole",
        "every agent solves CartPole (475) on every seed",
        (Figure("REINFORCE", R + "rl_policy_gradient.json", ("summary", "reinforce", "solved")),
         Figure("actor-critic", R + "rl_policy_gradient.json",
                ("summary", "actor_critic", "solved"))),
        (Figure("PPO", R + "rl_policy_gradient.json", ("summary", "ppo", "solved")),
         Figure("A2C", R + "rl_policy_gradient.json", ("summary", "a2c", "solved"))),
        "5",
        (Check(Figure("REINFORCE", R + "rl_policy_gradient.json",
                      ("summary", "reinforce", "solved")), "==", "5/5", "5/5"),),
        "`gmrl bench rl_policy_gradient --seeds 5`",
        "seeds solved; recorded before the script moved onto the harness"),
    Row("Melodies: RL Tuner reproduced", "melodies-rl-tuner-reproduced-and-gmrls-tuner",
        "gmrl's tuner meets every Q row of the paper's Table 1 with log p within 1 nat",
        (_music("gmrl repeats", "gmrl"),),
        (_music("Note-RNN repeats", "note_rnn"), _music("RL Tuner Q repeats", "q")),
        "3 (Bach)",
        tuple(Check(Figure(target, R + "music/rltuner.json", ("targets", "gmrl", target, "met")),
                    "==", target, True)
              for target in ("repeated_notes_pct", "not_in_key_pct", "log_p_within_1_nat")),
        "`gmrl bench music --seeds 3 --variants bach` (recorded before the script moved onto the "
        "harness, as `--seeds 0 1 2 --rl-steps 200`)",
        "Bach corpus; the Essen results and the guided tuner (the section) are merged from "
        "several per-seed files, with no one JSON figure to cite here"),
    Row("Melodies: one default config", "one-config-for-any-corpus-configsmusicdefaultyaml-"
        "essen-bach-a-folder",
        "issue 25, per corpus: every Q row of Table 1, log-p gap within the corpus budget, "
        ">= 99 % unique, memorisation <= held-out, no guard stop",
        tuple(_default(f"{name} motif", variant, "notes_in_motif_pct")
              for name, variant in _DEFAULT_CORPORA),
        (Figure("Q row motif", R + "music/default.json", ("paper", "q", "notes_in_motif_pct"),
                "{:.3g} %"),),
        "5 per corpus",
        tuple(Check(Figure(name, R + "music/default.json",
                           ("variants", variant, "targets", "gmrl", "all_met_issue25")),
                    "==", name, True) for name, variant in _DEFAULT_CORPORA),
        "`gmrl bench music --seeds 5 --variants default_essen default_bach default_folder "
        "--workers 1 --out benchmarks/results/music/default.json`",
        "configs/music/default.yaml; motif is the row most missed; every target per corpus "
        "in the section"),
    Row("Synthetic experience vs SAC", "synthetic-experience-vs-sac",
        "Pendulum: half SAC's real steps to -200; InvertedPendulum: beat UTD-matched SAC",
        (_syn("Pendulum", "Pendulum-v1", "sac_synthetic"),
         _syn("InvertedPendulum", "InvertedPendulum-v5", "sac_synthetic")),
        (_syn("SAC", "Pendulum-v1", "sac"), _syn("UTD-matched SAC", "Pendulum-v1", "sac_utd"),
         _syn("UTD-matched SAC (InvertedPendulum)", "InvertedPendulum-v5", "sac_utd")),
        "10 (Pendulum), 3",
        (Check(_syn("Pendulum", "Pendulum-v1", "sac_synthetic"), "<=", "Pendulum",
               _syn("", "Pendulum-v1", "sac"), 0.5),
         Check(_syn("InvertedPendulum", "InvertedPendulum-v5", "sac_synthetic"), "<=",
               "InvertedPendulum", _syn("", "InvertedPendulum-v5", "sac_utd"))),
        "`gmrl bench synthetic --seeds 10`",
        "median real steps to threshold over all seeds; falls back after reaching on 6 of 10 "
        "Pendulum seeds (in the section)"),
    Row("Generative zoo", "generative-zoo-on-2-d-toy-data",
        "every model's samples closer to the data (MMD) than untrained",
        (Figure("flow, two moons", R + "generative_zoo.json",
                ("results", "flow/two_moons", "mmd", "median"), "{:.3f}"),
         Figure("GAN, eight gaussians", R + "generative_zoo.json",
                ("results", "gan/eight_gaussians", "mmd", "median"), "{:.3f}")),
        (Figure("untrained flow", R + "generative_zoo.json",
                ("results", "flow/two_moons", "mmd_untrained", "median"), "{:.3f}"),
         Figure("untrained GAN", R + "generative_zoo.json",
                ("results", "gan/eight_gaussians", "mmd_untrained", "median"), "{:.3f}")),
        "3",
        (Check(Figure("flow", R + "generative_zoo.json",
                      ("results", "flow/two_moons", "mmd", "median")), "<=", "flow",
               Figure("", R + "generative_zoo.json",
                      ("results", "flow/two_moons", "mmd_untrained", "median"))),),
        "`gmrl bench generative_zoo --seeds 3`",
        "12 model/data pairs in the section; recorded before the script moved onto the "
        "harness"),
)


# ----------------------------------------------------------------------------- rendering
def value(figure: Figure, root: Path, cache: dict[str, Any] | None = None) -> Any:
    """The figure's value in its JSON; a `GmrlError` naming the file and key when absent."""
    cache = {} if cache is None else cache
    if figure.source not in cache:
        path = root / figure.source
        try:
            cache[figure.source] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise GmrlError(f"headline: cannot read {figure.source}: {exc}") from None
    node = cache[figure.source]
    for part in figure.key:
        if not isinstance(node, dict) or part not in node:
            raise GmrlError(f"headline: {figure.source} has no {'.'.join(figure.key)}")
        node = node[part]
    return node


def _text(figure: Figure, root: Path, cache: dict[str, Any]) -> str:
    found = value(figure, root, cache)
    if found is None:
        shown = figure.missing
    elif isinstance(found, (int, float)) and not isinstance(found, bool):
        shown = figure.spec.format(found)
    else:
        shown = str(found)
    return f"{figure.label} {shown}".strip()


def met(check: Check, root: Path, cache: dict[str, Any]) -> bool:
    """Whether the target holds (a null figure, e.g. never reached, fails it)."""
    left = value(check.figure, root, cache)
    right = (value(check.bound, root, cache) if isinstance(check.bound, Figure)
             else check.bound)
    if check.op == "==":
        return bool(left == right)
    if left is None or right is None:
        return False
    bound = float(right) * check.factor + check.offset
    return float(left) <= bound if check.op == "<=" else float(left) >= bound


def _verdict(checks: Sequence[Check], root: Path, cache: dict[str, Any]) -> str:
    """met, not met, or per target when some are met and others not."""
    results = [met(c, root, cache) for c in checks]
    if all(results) or not any(results):
        return "met" if all(results) else "not met"
    return "; ".join(f"{c.what}: {'met' if ok else 'not met'}"
                     for c, ok in zip(checks, results, strict=True))


def render(rows: Sequence[Row] = ROWS, root: Path = Path()) -> str:
    """The headline table (Markdown) from the results files under `root`."""
    cache: dict[str, Any] = {}
    lines = ["| benchmark | target | gmrl | peer | seeds | met? | command |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        gmrl = "; ".join(_text(f, root, cache) for f in row.gmrl)
        peer = "; ".join(_text(f, root, cache) for f in row.peer)
        verdict = _verdict(row.checks, root, cache)
        sources = sorted({f.source for f in (*row.gmrl, *row.peer)})
        note = f" ({row.note})" if row.note else ""
        cite = ", ".join(f"`{s.removeprefix(R)}`" for s in sources)
        lines.append(f"| [{row.name}](#{row.anchor}) | {row.target} | {gmrl}{note} | {peer} "
                     f"| {row.seeds} | {verdict} | {row.command}; {cite} |")
    return "\n".join([
        "Generated by `python -m gmrl.bench.headline` from the JSON each row cites (under "
        "`benchmarks/results/`); a test checks every figure against it. 'met?' compares the "
        "figures with the target.", "", *lines])


def block(text: str) -> str | None:
    """The content between the headline markers of `text` (None when it has none)."""
    if START not in text or END not in text:
        return None
    return text[text.index(START) + len(START):text.index(END)].strip()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rewrite docs/BENCHMARKS.md's headline table "
                                     "from benchmarks/results/ (run from the repository root)")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if the table in the docs differs; write nothing")
    parser.add_argument("--docs", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    try:
        body = render()
        if args.check:
            current = block(args.docs.read_text(encoding="utf-8"))
            if current != body.strip():
                print(f"{args.docs}: the headline table differs from benchmarks/results/: run "
                      "python -m gmrl.bench.headline", file=sys.stderr)
                return 1
            return 0
        changed = update_docs(args.docs, body, START, END)
    except (GmrlError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.docs}: {'updated' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
