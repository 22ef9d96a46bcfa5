"""Run directories for the report tests: two tiny real generative runs and a music-like run.

The generative runs are made by `gmrl run` in-process (2 epochs on 256 points, a few seconds);
the music run is assembled from gmrl's own MIDI and piano-roll writers plus a WAV made with the
standard library's `wave`, so the audio path is tested without training a Note-RNN.
"""

import json
import math
import struct
import wave
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gmrl.cli import app
from gmrl.music.midi import events_to_midi
from gmrl.music.render import piano_roll_png

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "generative" / "moons_flow.yaml"
WAV_SECONDS = 0.5
MIDI_STEPS = 32  # 16th notes at 120 bpm: 4 s once rendered


@pytest.fixture(scope="session")
def generative_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two finished generative runs (seeds 0 and 1) that differ in their config's seed."""
    root = tmp_path_factory.mktemp("runs")
    runs = []
    for seed in (0, 1):
        result = CliRunner().invoke(
            app,
            ["run", str(CONFIG), "epochs=2", "n_train=256", "n_test=256", "eval_samples=256",
             "eval_every=1", f"seed={seed}", "--runs", str(root / str(seed)), "-q"],
        )
        assert result.exit_code == 0, result.output
        (run,) = (root / str(seed)).iterdir()
        runs.append(run)
    return runs


def write_wav(path: Path, seconds: float = WAV_SECONDS, rate: int = 8000) -> None:
    """A 440 Hz sine as 16-bit mono PCM, written with the standard library only."""
    frames = b"".join(
        struct.pack("<h", round(12000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(round(seconds * rate))
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)


def melody() -> np.ndarray:
    """32 steps: eight quarter notes walking up C major (2 = MIDI 48, so 14 = middle C)."""
    events = np.ones(MIDI_STEPS, dtype=np.int64)
    for index, pitch in enumerate((14, 16, 18, 19, 21, 23, 25, 26)):
        events[index * 4] = pitch
    return events


@pytest.fixture(scope="session")
def music_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A music-recipe-like run: metrics, summary, a plot, a WAV+MIDI pair and a MIDI-only clip."""
    run = tmp_path_factory.mktemp("music") / "music-20261201-120000"
    (run / "plots").mkdir(parents=True)
    (run / "checkpoints").mkdir()
    (run / "config.yaml").write_text("recipe: music\nseed: 3\ntuning:\n  algo: rloo\n")
    rows = ["step,tune/kl,tune/music_reward,eval/log_p"]
    rows += [f"{s},{0.1 * s},{-5 + s},{-80 + s if s % 5 == 0 else ''}" for s in range(1, 21)]
    (run / "metrics.csv").write_text("\n".join(rows) + "\n")
    (run / "summary.json").write_text(json.dumps({"tuned/log_p": -61.5, "tuned/unique": 1.0}))
    piano_roll_png([melody()], run / "samples" / "rloo_pianoroll.png")
    write_wav(run / "samples" / "rloo_000.wav")
    events_to_midi(melody(), run / "samples" / "rloo_000.mid")
    events_to_midi(melody(), run / "samples" / "rloo_001.mid")  # no WAV: the report renders it
    write_wav(run / "checkpoints" / "ignored.wav")  # not report material
    return run
