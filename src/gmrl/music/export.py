"""Write compositions a person can hear and see: MIDI, WAV and piano-roll PNG per composition.

```python
write_samples(events[:4], "samples/", prefix="psi")   # samples/psi_000.mid, .wav, .png ...
```
MIDI comes from `gmrl.music.midi`; WAV (synthesised, no soundfont) and the piano roll from
`gmrl.music.render`.
"""

from pathlib import Path

import numpy as np
import torch

from gmrl.music.midi import events_to_midi


def write_samples(
    events: torch.Tensor | np.ndarray, out_dir: str | Path, *, prefix: str = "melody",
    audio: bool = True, image: bool = True,
) -> list[Path]:
    """One `.mid` (and `.wav`, `.png`) per composition of the `(N, T)` batch; returns the paths."""
    from gmrl.music import render

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = np.asarray(events.cpu() if isinstance(events, torch.Tensor) else events, np.int64)
    written: list[Path] = []
    width = max(3, len(str(len(rows) - 1)))
    for index, row in enumerate(rows):
        stem = out / f"{prefix}_{index:0{width}d}" if prefix else out / f"{index:0{width}d}"
        written.append(events_to_midi(row, stem.with_suffix(".mid")))
        if audio:
            written.append(render.events_to_wav(row, stem.with_suffix(".wav")))
        if image:
            written.append(render.piano_roll_png(row, stem.with_suffix(".png")))
    return written
