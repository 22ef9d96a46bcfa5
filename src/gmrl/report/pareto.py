"""The report page of a music sweep: its Pareto front, the points as a table, and audio.

`gmrl report runs/sweep-music-<time>` lands here: `gmrl.music.pareto.write_front` writes the
front's plot, tables and clips into `<sweep>/pareto/`, and this page shows them (the plot inline,
every point with a link to its trial directory, five compositions from each end of the front and
five held-out corpus melodies as players), self-contained like every report page; the files it
was built from are linked beside it.
"""

import os
from html import escape
from pathlib import Path

from gmrl.music.pareto import LOG_P, MEMORISATION, THEORY, FrontPoint, write_front
from gmrl.report.audio import find_clips
from gmrl.report.page import CSP, CSS, PAGE, clip_figure, data_uri

INTRO = (
    "Each point is one KL weight (beta) of the sweep, averaged over its seeds. Axes: "
    "<b>music-theory score</b> (mean RL Tuner reward r_MT per composition under the run's rule "
    "weights; higher = more of what the hand-written rules ask for), <b>log p</b> (mean "
    "log-likelihood per composition under the run's Note-RNN, in nats; higher = more "
    "plausible to the model of the corpus) and <b>memorisation</b> (share of the compositions' "
    "16-event n-grams found verbatim in the training windows; lower = less copying, read "
    "against the held-out corpus). A point is on the front when no other point is at least as "
    "good on all three axes and better on one. Low beta buys theory score with log p; high beta "
    "stays near the Note-RNN."
)


def is_sweep_dir(path: Path) -> bool:
    """Whether `path` is a folder `gmrl sweep` made (it holds sweep.yaml)."""
    return path.is_dir() and (path / "sweep.yaml").is_file()


def _link(target: Path, base: Path | None, text: str) -> str:
    """A link to a file or folder on disk, relative to the page's folder when it is known."""
    href = os.path.relpath(target, base) if base is not None else target.resolve().as_uri()
    return f'<a href="{escape(Path(href).as_posix())}">{escape(text)}</a>'


def _rows(points: list[FrontPoint], trials: Path, base: Path | None) -> str:
    header = ("point", "beta", "seeds", "stopped by the guard", "theory score", "log p",
              "memorisation_16", "on front", "trials")
    body = []
    for p in sorted(points, key=lambda p: (p.beta is None, p.beta or 0.0)):
        links = " ".join(_link(trials / name, base, name) for name in p.trials)
        cells = [escape(p.label), "" if p.beta is None else f"{p.beta:g}", str(len(p.seeds)),
                 str(p.stopped), f"{p.value(THEORY):.2f}", f"{p.value(LOG_P):.2f}",
                 f"{p.value(MEMORISATION):.4f}", "yes" if p.on_front else "", links]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in header)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def pareto_page(sweep_dir: Path, title: str, generator: str, out: Path | None = None) -> str:
    """The whole HTML page of a music sweep (writing `<sweep>/pareto/` first); links are
    relative to `out`'s folder when given."""
    files = write_front(sweep_dir)
    front = files.front
    base = out.resolve().parent if out is not None else None
    png = files.png.read_bytes()
    sections = [
        '<h2 id="front">Pareto front</h2>', f"<p>{INTRO}</p>",
        f'<figure><img class="plot" src="{data_uri("image/png", png)}" alt="Pareto front">'
        "<figcaption>music-theory score against log p; colour and size: memorisation; red "
        "rims: non-dominated points; black marks: the Note-RNN's own samples and the held-out "
        "corpus windows</figcaption></figure>",
        "<p>Files: " + ", ".join(_link(f, base, f.name) for f in
                                 (files.png, files.json, files.markdown)) + "</p>",
        '<h2 id="points">Points</h2>', _rows(front.points, sweep_dir / "trials", base),
    ]
    references = [f"{name}: theory {ref[THEORY]:.2f}, log p {ref[LOG_P]:.2f}, memorisation "
                  f"{ref[MEMORISATION]:.4f}" for name, ref in front.references.items()]
    if references:
        sections.append('<p class="note">References (mean over trials): '
                        + escape("; ".join(references)) + "</p>")
    sections.append('<h2 id="audio">Listen: both ends of the front and the corpus</h2>')
    for name, (caption, folder) in files.clips.items():
        clips, _ = find_clips(folder)
        sections.append(f"<h3>{escape(caption)}</h3>")
        sections.append(f"<p>{_link(folder, base, f'{name}/ (MIDI, WAV, piano roll)')}</p>")
        sections.extend(clip_figure(clip) for clip in clips)
    if files.notes:
        sections.append('<ul class="note">' + "".join(f"<li>{escape(n)}</li>"
                                                      for n in files.notes) + "</ul>")
    n = len(front.points)
    return PAGE.substitute(
        csp=CSP, css=CSS, generator=escape(generator), title=escape(title),
        subtitle=escape(f"music sweep {sweep_dir}: {n} point{'s' if n != 1 else ''}, "
                        f"{sum(p.on_front for p in front.points)} on the front; written by "
                        f"{generator}"),
        body="\n".join(sections),
    )
