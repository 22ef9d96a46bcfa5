"""Search gmrl's music tuner for RL Tuner's Q row *and* a small KL cost, then check it on new seeds.

The issue's target asks one tuner for every Table 1 row of RL Tuner's Q row, >= 95 % unique
compositions and a mean log p under the Note-RNN within 1 nat of the Note-RNN's own samples.
Hand sweeps (docs/music.md) put each row at its boundary at once but never all of them, so this
script hands the search to Optuna (TPE): each trial tunes saved Note-RNNs (`--note-rnn`, one or
more seeds) with `configs/music/tuner.yaml` plus sampled overrides (KL coefficient, steps, batch,
learning rate, entropy bonus, rule weights, `exact_rules`, `min_unique`) and scores
`--compositions` samples of each. A run's loss is the sum of its shortfalls against the targets,
each in units of a tolerance and with a safety margin (so a setting that only just meets a row is
not preferred), plus its excess over a ceiling on repeated bars (copying bars is how these tuners
begin to collapse), plus one unit when the attractor check fires; a trial's loss is the mean over
its Note-RNNs, or the worst with `--aggregate max`. log p is compared per event (the gap per
composition divided by 32; per composition the target is out of reach on these corpora, measured
in docs/music.md). Search on one seed and the winner overfits that seed's noise: use three.

`--set KEY=VALUE ...` fixes overrides for every trial (the searched ones come after them).
Optionally the best `--top` settings are rerun with 10,000 compositions on `--validate` Note-RNNs
of other seeds; the figures docs quote come from `benchmarks/music_rltuner.py` on fresh seeds.

    nice .venv/bin/python benchmarks/diagnosis/music_search.py --study NAME --trials 60 \
        --workers 2 --note-rnn runs/bench-music/pretrain-s{0,1,2}-.../note_rnn.safetensors

Writes benchmarks/results/music/search_<corpus>_<study>.json (every trial, per seed, and any
validation; progress lines go to stdout) and the Optuna journal search_<corpus>.journal, shared
by the studies (a rerun with the same --study resumes it). Stop a search with Ctrl-C (it reaches
the worker processes too); killing only the main process leaves its workers running.
"""

import argparse
import json
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import torch

from gmrl.core.checkpoint import atomic_write_text
from gmrl.core.seeding import torch_generator
from gmrl.music.encoding import COMPOSITION_STEPS
from gmrl.music.note_rnn import load_note_rnn, mean_log_prob
from gmrl.music.policy import MelodyPolicy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the scripts used below
from music_rltuner import TARGETS, _run

RESULTS = Path("benchmarks/results/music")
# (row, direction, bound with margin, tolerance): a shortfall of one tolerance costs 1.
GOALS = (
    ("repeated_notes_pct", "<=", 0.0, 0.005),
    ("not_in_key_pct", "<=", 0.8, 0.5),
    ("tonic_start_pct", ">=", 35.0, 10.0),
    ("leaps_resolved_pct", ">=", 92.0, 2.0),
    ("notes_in_motif_pct", ">=", 76.7, 2.0),
    ("notes_in_repeated_motif_pct", ">=", 0.14, 0.05),
    ("log_p_gap_per_event", ">=", -0.9, 0.1),
    ("unique_fraction", ">=", 0.97, 0.02),
)
# (row, ceiling, tolerance): rows that must not grow past a ceiling. Bars copied note for note
# take 0.31 % of the Essen held-out windows' notes; at 5x that (the attractor check's factor) a
# tuner has begun to collapse onto repeated bars (fresh seeds 4 and 6 of tuner_q_row.yaml:
# 5-7 %, drifting to 47 % when left to run), and such runs also look closest to the Note-RNN.
CEILINGS = (("notes_in_repeated_motif_pct", 1.5, 0.5),)
assert {row for row, *_ in TARGETS} <= {row for row, *_ in GOALS}


def suggest(trial: optuna.Trial) -> list[str]:
    """The overrides of one trial (on top of configs/music/tuner.yaml)."""
    batch = trial.suggest_categorical("batch_size", [64, 128, 256])
    return [
        f"tuning.tuner.beta={trial.suggest_float('beta', 0.1, 0.5, log=True)}",
        f"tuning.steps={trial.suggest_int('steps', 150, 600, step=50)}",
        f"tuning.tuner.batch_size={batch}",
        f"tuning.tuner.group_size={trial.suggest_categorical('group_size', [4, 8])}",
        f"tuning.tuner.lr={trial.suggest_float('lr', 1e-3, 6e-3, log=True)}",
        f"tuning.tuner.entropy_coef={trial.suggest_float('entropy_coef', 0.0, 0.03)}",
        f"tuning.exact_rules={trial.suggest_categorical('exact_rules', [False, True])}",
        f"tuning.tuner.min_unique={trial.suggest_categorical('min_unique', ['null', '0.99'])}",
        *(f"reward.weights.{rule}={trial.suggest_float(f'w_{rule}', low, high)}"
          for rule, low, high in (("tonic", 1.0, 8.0), ("key", 1.0, 5.0), ("leaps", 1.0, 4.0),
                                  ("motif", 0.5, 3.0), ("repeated_motif", 0.0, 4.0),
                                  ("repetition", 1.0, 5.0), ("intervals", 0.5, 2.0))),
    ]


def prior_log_p(checkpoint: str, corpus: str, compositions: int, seed: int) -> float:
    """Mean log p of the Note-RNN's own samples (what the gap is measured against)."""
    note_rnn = load_note_rnn(checkpoint)
    draws = torch_generator(seed, "prior_eval")
    events = MelodyPolicy(note_rnn).sample(compositions, generator=draws)
    return mean_log_prob(note_rnn, events)


def score(figures: dict[str, float]) -> tuple[float, dict[str, float]]:
    """Sum of shortfalls (in tolerances) against GOALS, of excesses over CEILINGS, plus 1 if
    the attractor check fired."""
    parts = {}
    for row, op, bound, tolerance in GOALS:
        value = figures[row]
        miss = (value - bound) if op == "<=" else (bound - value)
        parts[row] = max(0.0, miss / tolerance)
    for row, ceiling, tolerance in CEILINGS:
        parts[f"{row}_ceiling"] = max(0.0, (figures[row] - ceiling) / tolerance)
    parts["attractor"] = float(figures.get("attractor", 0.0))
    return sum(parts.values()), parts


def rescored(trial: optuna.trial.FrozenTrial, aggregate: str) -> float:
    """A finished trial's loss under today's `score` (from its stored figures), so that a
    warm start or a report ranks trials of studies run under an older loss consistently."""
    seeds = trial.user_attrs.get("seeds")
    if not seeds:
        return float(trial.value)
    losses = [score(row["figures"])[0] for row in seeds]
    return max(losses) if aggregate == "max" else sum(losses) / len(losses)


def tune_once(overrides: list[str], checkpoint: str, seed: int, args: argparse.Namespace,
              prior: float) -> dict[str, float]:
    """One tuner run from a saved Note-RNN; the figures GOALS needs, and its CPU seconds."""
    extra = [f"note_rnn.checkpoint={checkpoint}", f"corpus.source={args.corpus}",
             "eval.compare=false", "eval.render=0", f"eval.compositions={args.compositions}",
             "checkpoint_every=100000", *args.set, *overrides]
    _, summary, seconds = _run("tuner", seed, Path(args.runs), extra)
    figures = {k.removeprefix("tuned/"): v for k, v in summary.items() if k.startswith("tuned/")}
    figures["log_p_gap_per_event"] = (figures["log_p"] - prior) / COMPOSITION_STEPS
    figures["cpu_seconds"] = seconds
    return figures


def worker(args: argparse.Namespace, trials: int, priors: list[float]) -> None:
    """One process of the search (trials share the journal file)."""
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=args.study, storage=_storage(args))

    def objective(trial: optuna.Trial) -> float:
        overrides = suggest(trial)
        per_seed = []
        for seed, checkpoint, prior in zip(args.seeds, args.note_rnn, priors, strict=True):
            figures = tune_once(overrides, checkpoint, seed, args, prior)
            loss, parts = score(figures)
            per_seed.append({"seed": seed, "loss": loss, "figures": figures, "shortfalls": parts})
            print(f"trial {trial.number} seed {seed}: loss {loss:.3f} "
                  + " ".join(f"{k}={figures[k]:.4g}" for k, *_ in GOALS), flush=True)
        trial.set_user_attr("seeds", per_seed)
        trial.set_user_attr("overrides", overrides)
        losses = [row["loss"] for row in per_seed]
        return max(losses) if args.aggregate == "max" else sum(losses) / len(losses)

    study.optimize(objective, n_trials=trials)


def _storage(args: argparse.Namespace, corpus: str | None = None) -> optuna.storages.JournalStorage:
    """The Optuna journal of `corpus` (default: the search's own)."""
    from optuna.storages.journal import JournalFileBackend

    path = RESULTS / f"search_{corpus or args.corpus}.journal"
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--note-rnn", nargs="+", required=True,
                        help="the search seeds' saved Note-RNNs")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="their seeds (default 0, 1, ...)")
    parser.add_argument("--validate", nargs="*", default=[], help="other seeds' Note-RNNs")
    parser.add_argument("--validate-seeds", type=int, nargs="*", default=None,
                        help="their seeds (default: after the search seeds)")
    parser.add_argument("--corpus", default="essen")
    parser.add_argument("--trials", type=int, default=60, help="total trials over the workers")
    parser.add_argument("--workers", type=int, default=2, help="processes searching at once")
    parser.add_argument("--compositions", type=int, default=4000, help="per search trial")
    parser.add_argument("--top", type=int, default=3, help="settings rerun on the new seeds")
    parser.add_argument("--study", default="music-tuner")
    parser.add_argument("--runs", default="runs/music-search")
    parser.add_argument("--skip-search", action="store_true", help="only validate")
    parser.add_argument("--aggregate", choices=["mean", "max"], default="mean",
                        help="a trial's loss over its Note-RNNs: mean, or max (the worst seed)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="fixed overrides of every trial (e.g. tuning.guide_rules=true)")
    parser.add_argument("--warm-start-corpus", default=None,
                        help="look --warm-start up in this corpus's journal (default: --corpus)")
    parser.add_argument("--warm-start", default=None,
                        help="another study in the same journal: its 5 best settings go first")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    started = time.time()
    args.seeds = args.seeds or list(range(len(args.note_rnn)))
    priors = [prior_log_p(checkpoint, args.corpus, args.compositions, seed)
              for seed, checkpoint in zip(args.seeds, args.note_rnn, strict=True)]
    if not args.skip_search:
        study = optuna.create_study(
            study_name=args.study, storage=_storage(args), direction="minimize",
            sampler=optuna.samplers.TPESampler(seed=args.seeds[0]), load_if_exists=True)
        if args.warm_start and not study.trials:
            old = optuna.load_study(study_name=args.warm_start,
                                    storage=_storage(args, args.warm_start_corpus))
            finished = [t for t in old.trials if t.value is not None]
            ranked = sorted(finished, key=lambda t: rescored(t, args.aggregate))
            for trial in ranked[:5]:
                study.enqueue_trial(trial.params, skip_if_exists=True)
        share = [args.trials // args.workers + (i < args.trials % args.workers)
                 for i in range(args.workers)]
        spawn = multiprocessing.get_context("spawn")  # no fork after torch has run
        procs = [spawn.Process(target=worker, args=(args, n, priors)) for n in share]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
    study = optuna.load_study(study_name=args.study, storage=_storage(args))
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    done.sort(key=lambda t: t.value)
    record: dict[str, Any] = {
        "command": "python benchmarks/diagnosis/music_search.py " + " ".join(
            f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in vars(args).items() if v not in (None, False, [])),
        "search_prior_log_p": priors, "goals": GOALS,
        "trials": [{"number": t.number, "loss": t.value, "loss_today": rescored(t, args.aggregate),
                    "params": t.params, **t.user_attrs}
                   for t in done],
    }
    first = max(args.seeds) + 1
    seeds = args.validate_seeds or list(range(first, first + len(args.validate)))
    validation = []
    for rank, trial in enumerate(done[: args.top] if args.validate else []):
        overrides = trial.user_attrs["overrides"]
        rows = []
        for seed, checkpoint in zip(seeds, args.validate, strict=True):
            full = argparse.Namespace(**{**vars(args), "compositions": 10_000})
            seed_prior = prior_log_p(checkpoint, args.corpus, 10_000, seed)
            figures = tune_once(overrides, checkpoint, seed, full, seed_prior)
            loss, parts = score(figures)
            rows.append({"seed": seed, "loss": loss, "figures": figures, "shortfalls": parts})
            print(f"validate #{rank} (trial {trial.number}) seed {seed}: loss {loss:.3f} "
                  + " ".join(f"{k}={figures[k]:.4g}" for k, *_ in GOALS), flush=True)
        validation.append({"trial": trial.number, "overrides": overrides, "seeds": rows})
    record["validation"] = validation
    record["wall_seconds"] = time.time() - started
    out = RESULTS / f"search_{args.corpus}_{args.study}.json"
    atomic_write_text(out, json.dumps(record, indent=1, default=str) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
