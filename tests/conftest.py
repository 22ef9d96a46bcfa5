"""Shared test set-up: one torch thread per worker (the suite runs with -n 2 on 2 cores), and
`music_sweep`, a fake music sweep directory (tests/music/test_pareto.py, tests/report)."""

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

os.environ.setdefault("MPLBACKEND", "Agg")
# Ray starts its workers at nice 15 by default: beside the other xdist worker (and anything else
# on a shared 2-core machine) they starve, and the two local-Ray tests took 20-90 s instead of
# 6-10 s. At nice 0 they share the cores like every other test process (results are unchanged).
os.environ.setdefault("RAY_worker_niceness", "0")


@pytest.fixture(autouse=True, scope="session")
def _single_thread() -> None:
    torch.set_num_threads(1)


def _events(n: int, seed: int) -> np.ndarray:
    """`n` compositions of in-range events (note-ons and holds)."""
    rng = np.random.default_rng(seed)
    events = np.ones((n, 32), dtype=np.int64)
    events[:, ::4] = rng.integers(10, 30, size=(n, 8))
    return events


def _music_sweep(root: Path, points: dict[float, tuple[float, float, float]],
                 seeds: int = 2, recipe: str = "music") -> Path:
    """A sweep directory over tuning.tuner.beta whose trials hold only what the Pareto page
    reads: config.yaml, summary.json and compositions.txt (corpus: a token file)."""
    from gmrl.music.render import write_token_file  # not for every test session

    sweep = root / "sweep-music-test"
    root.mkdir(parents=True, exist_ok=True)
    corpus = write_token_file(_events(60, 99), root / "corpus.txt")
    (sweep / "trials").mkdir(parents=True)
    (sweep / "sweep.yaml").write_text(yaml.safe_dump({"base": {"recipe": recipe}}))
    for beta, (theory, log_p, memo) in points.items():
        for seed in range(seeds):
            trial = sweep / "trials" / f"tuning.tuner.beta-{beta:g}-seed{seed}"
            trial.mkdir()
            config = {"recipe": recipe, "seed": seed, "tuning": {"tuner": {"beta": beta}},
                      "corpus": {"source": str(corpus), "test_fraction": 0.2}}
            (trial / "config.yaml").write_text(yaml.safe_dump(config))
            shift = 0.5 * seed  # seeds differ; the point is their mean
            summary = {"tuned/music_reward": theory + shift, "tuned/log_p": log_p - shift,
                       "tuned/memorisation_16": memo, "tuned/unique_fraction": 1.0,
                       "note_rnn/music_reward": -5.0, "note_rnn/log_p": -20.0,
                       "note_rnn/memorisation_16": 0.2, "corpus/music_reward": 1.0,
                       "corpus/log_p": -21.0, "corpus/memorisation_16": 0.3}
            (trial / "summary.json").write_text(json.dumps(summary))
            write_token_file(_events(8, int(beta * 100) + seed), trial / "compositions.txt")
    unfinished = sweep / "trials" / "tuning.tuner.beta-9-seed0"
    unfinished.mkdir()  # still running: no summary.json, left out
    return sweep


@pytest.fixture
def music_sweep() -> Callable[..., Path]:
    """`music_sweep(root, {beta: (theory, log_p, memorisation)}, seeds=2, recipe="music")`."""
    return _music_sweep
