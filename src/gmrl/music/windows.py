"""The training and held-out 32-step windows of a corpus source, split as the music recipe does.

One function, shared by the recipe (what it trains and evaluates on) and by whatever needs the
same held-out melodies afterwards (the Pareto page's corpus clips, a benchmark's rescore): a
corpus is split by melody (`MelodyCorpus.split`), a token file (.txt, one 32-event composition
per line) by row, both reproducibly from `seed`.
"""

import numpy as np

from gmrl.core.errors import ConfigError
from gmrl.core.seeding import numpy_rng
from gmrl.music.encoding import COMPOSITION_STEPS
from gmrl.music.render import read_token_file


def train_test_windows(
    source: str,
    seed: int,
    *,
    transpose: bool = True,
    cache_dir: str | None = None,
    max_files: int | None = None,
    test_fraction: float = 0.1,
    stride: int = 16,
    quiet: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Train and held-out `(N, 32)` windows of `source` (a corpus name, a folder or a token
    file); unless `quiet`, parsing a corpus shows its progress and one line of statistics."""
    steps = COMPOSITION_STEPS
    if source.endswith(".txt"):
        rows = read_token_file(source)
        if rows.shape[1] != steps:
            raise ConfigError(f"token file '{source}' must hold {steps} events per line")
        order = numpy_rng(seed, "corpus_split").permutation(len(rows))
        n_test = max(1, round(len(rows) * test_fraction)) if test_fraction else 0
        return rows[order[n_test:]], rows[order[:n_test]]
    from gmrl.music.corpus import load_corpus

    melodies = load_corpus(source, transpose=transpose, cache_dir=cache_dir,
                           max_files=max_files, progress=not quiet)
    train, test = melodies.split(test_fraction, seed)
    train_windows = train.windows(length=steps, stride=stride)
    test_windows = test.windows(length=steps, stride=stride)
    if len(train_windows) == 0:
        raise ConfigError(
            f"corpus '{source}' gave no {steps}-step training windows: use more (or longer) "
            "melodies"
        )
    return train_windows, test_windows
