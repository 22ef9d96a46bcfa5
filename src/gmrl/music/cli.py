"""`gmrl music ...`: melodies from a finished music run.

```
gmrl music generate runs/music-20261201-101500 -n 16 -o melodies/ --seed 3
```
writes `melodies/compositions.txt` (one composition per line), per composition a MIDI file and a
WAV file (synthesised, no soundfont needed), and a piano-roll PNG of the first 16.
"""

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gmrl.core.errors import ConfigError, GmrlError

app = typer.Typer(
    name="music", help="Melodies from music runs (see `gmrl run configs/music/...`).",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)
_console = Console(stderr=True)


@app.callback()
def main() -> None:
    """Melodies from music runs."""


def _policy_path(run_dir: Path) -> Path:
    for name in ("policy.safetensors", "note_rnn.safetensors"):
        if (run_dir / name).is_file():
            return run_dir / name
    if not run_dir.is_dir():
        raise ConfigError(f"run directory '{run_dir}' not found: check the path")
    raise ConfigError(
        f"'{run_dir}' holds no policy.safetensors or note_rnn.safetensors: give the directory "
        "of a finished music run (gmrl run configs/music/...)"
    )


@app.command()
def generate(
    run_dir: Annotated[Path, typer.Argument(help="A finished music run directory.")],
    n: Annotated[int, typer.Option("-n", "--num", min=1, help="Compositions to write.")] = 8,
    out: Annotated[Path, typer.Option("-o", "--out", help="Output folder.")] = Path("melodies"),
    seed: Annotated[int, typer.Option("--seed", help="Sampling seed.")] = 0,
) -> None:
    """Sample N compositions from RUN_DIR's tuned policy into MIDI, WAV, PNG and a token file.

    Example:

      gmrl music generate runs/music-20261201-101500 -n 16 -o melodies/
    """
    from gmrl.core.seeding import torch_generator
    from gmrl.music.policy import load_policy
    from gmrl.music.render import write_outputs, write_token_file

    try:
        path = _policy_path(run_dir)
        if path.name == "note_rnn.safetensors":
            from gmrl.music.note_rnn import load_note_rnn
            from gmrl.music.policy import MelodyPolicy

            policy = MelodyPolicy(load_note_rnn(path), name="note_rnn")
        else:
            policy = load_policy(path)
        events = policy.sample(n, generator=torch_generator(seed, "generate"))
        tokens = write_token_file(events, out / "compositions.txt")
        written = write_outputs(events, out, prefix=policy.name or "melody")
    except (GmrlError, OSError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        _console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    count = sum(len(paths) for paths in written.values())
    typer.echo(f"{n} compositions from {path} -> {tokens} and {count} MIDI/WAV/PNG files in {out}")
