"""The Pareto front of a music sweep: music-theory score against log p against memorisation.

A KL-regularised tuner trades the music-theory reward against staying close to the Note-RNN, and
the KL weight (`tuning.tuner.beta`) picks the point of the trade; one `gmrl sweep` over beta
(docs/music.md, "Beyond the anchors") maps it. This module reads the sweep's finished trials
(`trials/*/summary.json` and `config.yaml`; plain files, so nothing here needs Ray or the sweep
package), averages each grid point over its seeds and keeps the points no other point beats on
all three axes:

- **music-theory score** (`tuned/music_reward`, higher is better): mean RL Tuner reward r_MT
  per composition under the run's rule weights, the thing the tuner is paid for;
- **log p** (`tuned/log_p`, higher is better): mean log-likelihood per composition under the
  run's Note-RNN (nats), how plausible the melodies are to the model of the corpus;
- **memorisation** (`tuned/memorisation_16`, lower is better): share of 16-event n-grams found
  verbatim in the training windows (`gmrl.music.copying`).

A point with any seed stopped by the collapse guard (`tune/stopped_early`) is reported with the
number of such seeds and never counted on the front: its figures are those of the policy the
guard kept before duplicates appeared, not of a run that held to the end.

`write_front` draws theory score against log p with memorisation as colour and size (the Note-RNN's
samples and the held-out corpus windows as reference marks), writes the points as JSON and
Markdown, and renders MIDI and WAV of five compositions from each end of the front and five
held-out corpus melodies, for `gmrl report SWEEP_DIR` to put on one page.
"""

import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from gmrl.core.checkpoint import atomic_write_text
from gmrl.core.errors import ConfigError, GmrlError
from gmrl.core.seeding import numpy_rng

THEORY, LOG_P, MEMORISATION = "music_reward", "log_p", "memorisation_16"
AXES: tuple[tuple[str, Literal["max", "min"]], ...] = (
    (THEORY, "max"), (LOG_P, "max"), (MEMORISATION, "min"),
)
CLIPS = 5  # compositions rendered from each end of the front, and corpus melodies
_SEED = re.compile(r"-seed(\d+)$")


@dataclass
class FrontPoint:
    """One grid point of the sweep: its figures averaged over the seeds that finished."""

    label: str
    beta: float | None
    seeds: list[int]
    trials: list[str]  # trial directory names, seed order
    figures: dict[str, float]  # THEORY, LOG_P, MEMORISATION and the rest of the tuned table
    per_seed: list[dict[str, float]] = field(default_factory=list)
    on_front: bool = False
    stopped: int = 0  # seeds the collapse guard stopped (such a point is never on the front)

    def value(self, axis: str) -> float:
        return self.figures.get(axis, float("nan"))


@dataclass
class Front:
    """Every point, which are non-dominated, the two ends, and the reference marks."""

    points: list[FrontPoint]
    references: dict[str, dict[str, float]]  # "note_rnn" / "corpus" -> axis -> mean
    theory_end: FrontPoint | None
    log_p_end: FrontPoint | None


def non_dominated(values: Sequence[Sequence[float]],
                  senses: Sequence[Literal["max", "min"]]) -> list[bool]:
    """For each row of `values`, whether no other row is at least as good on every axis and
    better on one (`senses`: "max" or "min" per axis). A row with a NaN is never on the front;
    identical rows are both kept."""
    signs = np.array([1.0 if sense == "max" else -1.0 for sense in senses])
    table = np.asarray(values, dtype=np.float64).reshape(len(values), len(senses)) * signs
    finite = np.isfinite(table).all(axis=1)
    keep = []
    for index, row in enumerate(table):
        if not finite[index]:
            keep.append(False)
            continue
        others = table[finite]
        beaten = ((others >= row).all(axis=1) & (others > row).any(axis=1)).any()
        keep.append(not bool(beaten))
    return keep


def _read_trial(folder: Path) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(summary, config) of a finished trial directory, or None when it has not finished."""
    summary_file, config_file = folder / "summary.json", folder / "config.yaml"
    if not summary_file.is_file() or not config_file.is_file():
        return None
    try:
        summary = json.loads(summary_file.read_text())
        config = yaml.safe_load(config_file.read_text())
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"trial '{folder}' cannot be read ({exc}): rerun or delete it") from exc
    return summary, config if isinstance(config, dict) else {}


def _beta(config: dict[str, Any]) -> float | None:
    tuner = (config.get("tuning") or {}).get("tuner") or {}
    value = tuner.get("beta") if isinstance(tuner, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


def _mean(rows: list[dict[str, float]], key: str) -> float:
    values = [r[key] for r in rows if isinstance(r.get(key), (int, float))]
    values = [float(v) for v in values if math.isfinite(v)]
    return sum(values) / len(values) if values else float("nan")


def read_front(sweep_dir: str | Path) -> Front:
    """The sweep's grid points (mean over seeds), which are non-dominated, and the ends; a
    folder that is not a music sweep with finished trials is one `ConfigError` line."""
    sweep_dir = Path(sweep_dir)
    trials = sweep_dir / "trials"
    if not trials.is_dir():
        raise ConfigError(f"'{sweep_dir}' is not a sweep directory (no trials/): give the folder "
                          "gmrl sweep made (runs/sweep-music-<time>)")
    groups: dict[str, list[tuple[int, str, dict[str, Any], dict[str, Any]]]] = {}
    for folder in sorted(p for p in trials.iterdir() if p.is_dir()):
        read = _read_trial(folder)
        if read is None:
            continue
        summary, config = read
        if config.get("recipe") != "music":
            raise ConfigError(f"'{sweep_dir}' is a sweep of recipe '{config.get('recipe')}': "
                              "a Pareto front is drawn for music sweeps only")
        found = _SEED.search(folder.name)
        label = folder.name[: found.start()] if found else folder.name
        groups.setdefault(label, []).append(
            (int(found.group(1)) if found else 0, folder.name, summary, config))
    if not groups:
        raise ConfigError(f"no trial of '{sweep_dir}' has finished (no trials/*/summary.json): "
                          "let the sweep run, or continue it with gmrl sweep --resume")
    points: list[FrontPoint] = []
    references: dict[str, list[dict[str, Any]]] = {"note_rnn": [], "corpus": []}
    for label, members in groups.items():
        members.sort()
        tuned = [{k[len("tuned/"):]: v for k, v in s.items() if k.startswith("tuned/")}
                 for _, _, s, _ in members]
        keys = dict.fromkeys(k for row in tuned for k in row)
        figures = {k: _mean(tuned, k) for k in keys}
        for name, rows in references.items():
            rows.extend({k[len(name) + 1:]: v for k, v in s.items() if k.startswith(f"{name}/")}
                        for _, _, s, _ in members)
        stopped = sum(float(s.get("tune/stopped_early", 0.0) or 0.0) > 0.5
                      for _, _, s, _ in members)
        points.append(FrontPoint(label, _beta(members[0][3]), [m[0] for m in members],
                                 [m[1] for m in members], figures, tuned, stopped=stopped))
    # a point the guard stopped counts as no point (NaN): it can neither join nor beat the front
    flags = non_dominated([[p.value(a) if not p.stopped else math.nan for a, _ in AXES]
                           for p in points], [sense for _, sense in AXES])
    for point, flag in zip(points, flags, strict=True):
        point.on_front = flag
    front = [p for p in points if p.on_front]
    refs = {name: {a: _mean(rows, a) for a, _ in AXES} for name, rows in references.items()
            if rows}
    return Front(
        points, refs,
        max(front, key=lambda p: p.value(THEORY)) if front else None,
        max(front, key=lambda p: p.value(LOG_P)) if front else None,
    )


def plot_front(front: Front, path: str | Path) -> Path:
    """Theory score (y) against log p (x), memorisation as colour and marker size; the front
    joined by a line, every point labelled with its beta, the Note-RNN and corpus marked."""
    from gmrl.core.plots import plt, save_figure

    figure, axis = plt.subplots(figsize=(7.5, 5.5))
    points = [p for p in front.points if math.isfinite(p.value(LOG_P))
              and math.isfinite(p.value(THEORY))]
    memo = [p.value(MEMORISATION) for p in points]
    finite_memo = [m for m in memo if math.isfinite(m)] or [0.0]
    low, high = min(finite_memo), max(finite_memo)
    sizes = [40 + 260 * ((m - low) / (high - low) if high > low and math.isfinite(m) else 0.5)
             for m in memo]
    scatter = axis.scatter([p.value(LOG_P) for p in points], [p.value(THEORY) for p in points],
                           c=memo, s=sizes, cmap="viridis", vmin=0.0,
                           vmax=high if high > 0 else 0.01, edgecolors=[
                               "red" if p.on_front else "grey" for p in points],
                           linewidths=[2.0 if p.on_front else 0.8 for p in points], zorder=3)
    bar = figure.colorbar(scatter, ax=axis)
    bar.set_label("memorisation (16-event n-grams in training, share)")
    for p in points:
        name = f"β={p.beta:g}" if p.beta is not None else p.label
        if p.stopped:
            name += f" (guard stopped {p.stopped}/{len(p.seeds)})"
        axis.annotate(name, (p.value(LOG_P), p.value(THEORY)), textcoords="offset points",
                      xytext=(6, 6), fontsize=8, color="grey" if p.stopped else "black")
    ordered = sorted((p for p in points if p.on_front), key=lambda p: p.value(LOG_P))
    if len(ordered) > 1:
        axis.plot([p.value(LOG_P) for p in ordered], [p.value(THEORY) for p in ordered],
                  color="red", lw=1, alpha=0.6, zorder=2, label="non-dominated (3 axes)")
    marks = {"note_rnn": ("Note-RNN samples", "s"), "corpus": ("held-out corpus", "*")}
    for name, (text, marker) in marks.items():
        ref = front.references.get(name)
        if ref and math.isfinite(ref[LOG_P]) and math.isfinite(ref[THEORY]):
            axis.scatter([ref[LOG_P]], [ref[THEORY]], marker=marker, s=120, color="black",
                         zorder=4, label=f"{text} (memorisation {ref[MEMORISATION]:.3f})")
    axis.set_xlabel("log p under the Note-RNN (nats per composition; higher = more plausible)")
    axis.set_ylabel("music-theory score (mean r_MT per composition)")
    axis.set_title("KL-weight sweep: music theory vs log p vs memorisation")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="best")
    return save_figure(figure, Path(path))


def _markdown(front: Front) -> str:
    lines = ["| point | beta | seeds | stopped by the guard | theory score | log p | "
             "memorisation_16 | on front |", "|---|---|---|---|---|---|---|---|"]
    for p in sorted(front.points, key=lambda p: (p.beta is None, p.beta or 0.0)):
        lines.append(f"| {p.label} | {'' if p.beta is None else f'{p.beta:g}'} | "
                     f"{len(p.seeds)} | {p.stopped} | {p.value(THEORY):.2f} | "
                     f"{p.value(LOG_P):.2f} | {p.value(MEMORISATION):.4f} | "
                     f"{'yes' if p.on_front else ''} |")
    for name, ref in front.references.items():
        lines.append(f"| {name} (reference) | | | | {ref[THEORY]:.2f} | {ref[LOG_P]:.2f} | "
                     f"{ref[MEMORISATION]:.4f} | |")
    return "\n".join(lines) + "\n"


def _strict(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strict(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class FrontFiles:
    """What `write_front` wrote: the plot, the tables, and one folder of clips per group
    (group name -> (caption, folder)); `notes` says what could not be rendered."""

    front: Front
    png: Path
    json: Path
    markdown: Path
    clips: dict[str, tuple[str, Path]]
    notes: list[str]


def corpus_melodies(config: dict[str, Any], seed: int, count: int = CLIPS) -> np.ndarray:
    """`count` held-out windows of the trial's corpus (the recipe's split for `seed`), drawn
    reproducibly."""
    from gmrl.music.windows import train_test_windows

    corpus = config.get("corpus") or {}
    corpus = {"source": corpus} if isinstance(corpus, str) else dict(corpus)
    _, held_out = train_test_windows(
        str(corpus.get("source", "bach")), seed, transpose=corpus.get("transpose", True),
        cache_dir=corpus.get("cache_dir"), max_files=corpus.get("max_files"),
        test_fraction=corpus.get("test_fraction", 0.1), stride=corpus.get("stride", 16))
    if len(held_out) == 0:
        return held_out
    picks = numpy_rng(0, "pareto_corpus_clips").choice(
        len(held_out), size=min(count, len(held_out)), replace=False)
    return held_out[np.sort(picks)]


def write_front(sweep_dir: str | Path, out_dir: str | Path | None = None,
                clips: int = CLIPS) -> FrontFiles:
    """Read the front and write, under `out_dir` (default `<sweep>/pareto`): `front.png`,
    `front.json`, `front.md`, and MIDI + WAV of `clips` compositions from each end of the front
    (`theory_end/`, `log_p_end/`: the first compositions of the end point's first seed) and of
    `clips` held-out corpus melodies (`corpus/`)."""
    from gmrl.music.render import read_token_file, write_outputs

    sweep_dir = Path(sweep_dir)
    out = Path(out_dir) if out_dir is not None else sweep_dir / "pareto"
    front = read_front(sweep_dir)
    out.mkdir(parents=True, exist_ok=True)
    png = plot_front(front, out / "front.png")
    document = {
        "axes": {a: s for a, s in AXES},
        "points": [asdict(p) for p in front.points],
        "references": front.references,
        "theory_end": front.theory_end.label if front.theory_end else None,
        "log_p_end": front.log_p_end.label if front.log_p_end else None,
    }
    json_file = out / "front.json"
    atomic_write_text(json_file, json.dumps(_strict(document), indent=2, allow_nan=False) + "\n")
    md_file = out / "front.md"
    atomic_write_text(md_file, _markdown(front))
    groups: dict[str, tuple[str, Path]] = {}
    notes: list[str] = []
    ends = [("theory_end", "highest music-theory score", front.theory_end),
            ("log_p_end", "highest log p", front.log_p_end)]
    for name, what, point in ends:
        if point is None:
            continue
        trial = sweep_dir / "trials" / point.trials[0]
        try:
            events = read_token_file(trial / "compositions.txt")[:clips]
        except (GmrlError, OSError) as exc:
            notes.append(f"{name}: {trial}/compositions.txt unreadable ({exc})")
            continue
        beta = f"beta {point.beta:g}" if point.beta is not None else point.label
        write_outputs(events, out / name, prefix=name)
        groups[name] = (f"End of the front with the {what}: {beta} ({point.trials[0]})",
                        out / name)
    first = front.points[0]
    read = _read_trial(sweep_dir / "trials" / first.trials[0])
    try:
        assert read is not None
        melodies = corpus_melodies(read[1], first.seeds[0], clips)
        if len(melodies):
            write_outputs(melodies, out / "corpus", prefix="corpus")
            groups["corpus"] = ("Held-out corpus melodies (32-step windows the Note-RNN never "
                                "saw), for comparison", out / "corpus")
    except (GmrlError, OSError) as exc:
        notes.append(f"corpus melodies not rendered: {str(exc).splitlines()[0]}")
    return FrontFiles(front, png, json_file, md_file, groups, notes)
