"""How likely are real melodies that meet RL Tuner's motif row, under the Note-RNN?

The music target asks for a tuner whose compositions have >= 75.7 % of their steps in a motif
(the paper's Q row) *and* a mean log p within 1 nat of the Note-RNN's own samples. This script
measures what real melodies say about that pair: it splits the held-out corpus windows of a
pre-training run by their fraction of steps in a motif and reports, per band, how many windows
fall in it, their mean log p under that run's Note-RNN and their note onsets per window. If the
real melodies that meet the motif row sit far below the Note-RNN's own samples, a tuner can only
meet both rows by finding melodies much likelier than real ones of the same kind (mode seeking),
and the unique-composition row is what that costs.

    python benchmarks/diagnosis/music_frontier.py runs/bench-music/pretrain-s0-*  # the Bach prior
    python benchmarks/diagnosis/music_frontier.py /tmp/music/music-... --name essen  # any run

Writes benchmarks/results/music/frontier_<name>.json and prints a Markdown table.
"""

import argparse
import json
from pathlib import Path

import torch
import yaml

from gmrl.core.checkpoint import atomic_write_text
from gmrl.music import theory
from gmrl.music.note_rnn import event_log_probs, load_note_rnn, mean_log_prob
from gmrl.recipes import music as recipe

BANDS = (0.0, 0.25, 0.5, 0.6, 0.7, 0.757)


def frontier(run_dir: Path, samples: int = 10_000, seed: int = 0) -> dict:
    """Per motif band: share of held-out windows, their mean log p and onsets; plus the prior's."""
    config = recipe.Config.model_validate(yaml.safe_load((run_dir / "config.yaml").read_text()))
    _, held_out = recipe.load_windows(config)
    note_rnn = load_note_rnn(run_dir / "note_rnn.safetensors")
    windows = torch.from_numpy(held_out).long()
    with torch.no_grad():
        log_p = event_log_probs(note_rnn, windows).sum(1)
    motif = (theory.motif_notes(windows, config.reward.bar_length) >= 3).float().mean(1)
    onsets = theory.is_note(windows).float().sum(1)
    own = note_rnn.sample(samples, generator=torch.Generator().manual_seed(seed))
    bands = []
    for low in BANDS:
        inside = motif >= low
        count = int(inside.sum())
        bands.append({
            "motif_at_least": low,
            "windows": count,
            "share": count / len(windows),
            "log_p": float(log_p[inside].mean()) if count else None,
            "onsets": float(onsets[inside].mean()) if count else None,
        })
    return {
        "run": str(run_dir),
        "corpus": config.corpus.source,
        "held_out_windows": len(windows),
        "note_rnn_samples_log_p": mean_log_prob(note_rnn, own),
        "bands": bands,
    }


def table(result: dict) -> str:
    lines = [
        f"Note-RNN's own samples: log p {result['note_rnn_samples_log_p']:.1f} "
        f"({result['corpus']}, {result['held_out_windows']} held-out windows)",
        "",
        "| held-out windows with motif >= | share | mean log p | onsets / window |",
        "|---|---|---|---|",
    ]
    for band in result["bands"]:
        if band["windows"]:
            lines.append(
                f"| {100 * band['motif_at_least']:.1f} % | {100 * band['share']:.1f} % | "
                f"{band['log_p']:.1f} | {band['onsets']:.1f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path, help="a music pre-training run directory")
    parser.add_argument("--name", default=None, help="result file suffix (default: the corpus)")
    parser.add_argument("--out-dir", type=Path, default=Path("benchmarks/results/music"))
    args = parser.parse_args()
    if not (args.run_dir / "note_rnn.safetensors").is_file():
        raise SystemExit(f"{args.run_dir}: no note_rnn.safetensors; pass a music run directory")
    torch.set_num_threads(1)
    result = frontier(args.run_dir)
    name = args.name or result["corpus"].replace("+", "_")
    out = args.out_dir / f"frontier_{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
