"""Audio clips of a run (music recipe samples) as WAV bytes a browser's `<audio>` can play.

A WAV the run wrote is embedded as it is (after checking that `wave` can read it). A MIDI file
with no WAV beside it is rendered with gmrl's own synthesiser (`gmrl.music.render.synthesize`, the
one the music recipe uses), so MIDI-only runs are audible too; one that cannot be rendered is
offered as a download link instead.
"""

import io
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gmrl.core.errors import GmrlError
from gmrl.report.files import run_files

MAX_CLIPS = 8  # per run; each clip adds its WAV (about 170 kB for 4 s) to the page
MAX_AUDIO_BYTES = 10 * 2**20
SAMPLE_RATE = 22050


@dataclass(frozen=True)
class Clip:
    """One composition: playable WAV bytes (or None) and the MIDI file's bytes (or None)."""

    name: str
    wav: bytes | None
    midi: bytes | None
    note: str = ""


def find_clips(path: Path) -> tuple[list[Clip], str]:
    """The run's clips, one per file stem with a .wav and/or .mid, and a note on any left out."""
    stems: dict[str, dict[str, Path]] = {}
    for file in run_files(path, (".wav", ".mid", ".midi")):
        stem = file.relative_to(path).with_suffix("").as_posix()
        kind = "wav" if file.suffix.lower() == ".wav" else "midi"
        stems.setdefault(stem, {})[kind] = file
    clips = [_clip(stem, files) for stem, files in list(stems.items())[:MAX_CLIPS]]
    left_out = len(stems) - len(clips)
    note = f"{left_out} more audio clips not shown (at most {MAX_CLIPS} per run)"
    return clips, note if left_out else ""


def _clip(stem: str, files: dict[str, Path]) -> Clip:
    midi_file = files.get("midi")
    midi = _read_small(midi_file) if midi_file is not None else None
    wav_file = files.get("wav")
    if wav_file is not None:
        data = _read_small(wav_file)
        problem = "larger than 10 MiB" if data is None else wav_problem(data)
        if problem is None:
            return Clip(stem, data, midi)
        if midi is None:
            return Clip(stem, None, None, f"{wav_file.name} not playable: {problem}")
    if midi_file is None or midi is None:
        return Clip(stem, None, None, "MIDI file larger than 10 MiB: not embedded")
    try:
        return Clip(stem, render_midi(midi_file), midi, "rendered from MIDI by gmrl")
    except (GmrlError, ValueError, OSError) as exc:
        return Clip(stem, None, midi, f"could not be rendered ({exc}): download the MIDI file")


def _read_small(file: Path) -> bytes | None:
    return file.read_bytes() if file.stat().st_size <= MAX_AUDIO_BYTES else None


def wav_problem(data: bytes) -> str | None:
    """Why `data` is not a playable WAV (None when it is one with at least one frame)."""
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            frames = reader.getnframes()
    except (wave.Error, EOFError) as exc:
        return f"not a PCM WAV file ({exc or 'truncated'})"
    return None if frames > 0 else "no audio frames"


def render_midi(file: Path) -> bytes:
    """A 16-bit mono WAV of the melody in a MIDI file, synthesised as the music recipe does."""
    from gmrl.music.midi import midi_to_events
    from gmrl.music.render import synthesize

    audio = synthesize(midi_to_events(file), sample_rate=SAMPLE_RATE)
    if audio.size == 0:
        raise ValueError("the MIDI file holds no notes")
    pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()
