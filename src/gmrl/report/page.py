"""The report's HTML: a `string.Template` page with inline CSS and every asset as a data URI.

No script and no external resource: a Content-Security-Policy meta tag allows only inline styles
and `data:` images and media, so the browser itself refuses anything that would reach a network.
"""

import base64
from html import escape
from string import Template

from gmrl.report.audio import Clip
from gmrl.report.figures import Figure
from gmrl.report.files import Asset
from gmrl.report.reader import RunData
from gmrl.report.tables import config_differences, overview_table, summary_table

CSP = (
    "default-src 'none'; img-src data:; media-src data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'"
)

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em;
       color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
thead th { background: #f3f3f3; } tbody th { font-weight: normal; }
td { font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; } figcaption { font-size: 0.85em; color: #555; }
figure.clip { display: flex; flex-wrap: wrap; align-items: center; gap: 0.3em 0.8em; }
figure.clip figcaption { flex-basis: 100%; }
img.plot, img.asset { max-width: 100%; height: auto; border: 1px solid #eee; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
.note { color: #666; font-style: italic; }
nav ul { columns: 2; }
"""

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="$csp">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="$generator">
<title>$title</title>
<link rel="icon" href="data:,">
<style>$css</style>
</head>
<body>
<h1>$title</h1>
<p class="note">$subtitle</p>
$body
</body>
</html>
""")


def data_uri(mime: str, data: bytes) -> str:
    """`data:` URI of `data` (base64 has no character that needs escaping in an attribute)."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def render_page(
    title: str, runs: list[RunData], figures: list[Figure], generator: str
) -> str:
    """The whole HTML document for `runs` (their figures already rendered)."""
    sections = [
        _nav(runs),
        "<h2 id=\"runs\">Runs</h2>",
        overview_table(runs),
        "<h2 id=\"curves\">Learning curves</h2>",
        _curves(figures),
        "<h2 id=\"summary\">Summary</h2>",
        summary_table(runs),
        "<h2 id=\"config\">Config differences</h2>",
        config_differences(runs),
    ]
    sections.extend(_run_section(index, run) for index, run in enumerate(runs))
    count = f"{len(runs)} run" + ("s" if len(runs) != 1 else "")
    return PAGE.substitute(
        csp=CSP,
        css=CSS,
        generator=escape(generator),
        title=escape(title),
        subtitle=escape(f"{count}; written by {generator}"),
        body="\n".join(sections),
    )


def _nav(runs: list[RunData]) -> str:
    links = ['<a href="#runs">Runs</a>', '<a href="#curves">Learning curves</a>',
             '<a href="#summary">Summary</a>', '<a href="#config">Config differences</a>']
    links += [f'<a href="#run-{i}">{escape(run.label)}</a>' for i, run in enumerate(runs)]
    return "<nav><ul>" + "".join(f"<li>{link}</li>" for link in links) + "</ul></nav>"


def _curves(figures: list[Figure]) -> str:
    if not figures:
        return '<p class="note">No run logged numeric metrics.</p>'
    return "\n".join(
        f'<figure><img class="plot" src="{data_uri("image/png", f.png)}" '
        f'alt="{escape(f.group)} learning curves">'
        f"<figcaption>{escape(f.group)}: {escape(', '.join(f.metrics))}</figcaption></figure>"
        for f in figures
    )


def _run_section(index: int, run: RunData) -> str:
    parts = [f'<section class="run" id="run-{index}">', f"<h2>Run: {escape(run.label)}</h2>"]
    if run.notes:
        parts.append(
            '<ul class="note">' + "".join(f"<li>{escape(n)}</li>" for n in run.notes) + "</ul>"
        )
    parts.append(f"<details><summary>config.yaml</summary><pre>{escape(run.config_text)}</pre>"
                 "</details>")
    if run.images:
        parts.append("<h3>Figures</h3>")
        parts.extend(_image(asset) for asset in run.images)
    if run.clips:
        parts.append("<h3>Audio</h3>")
        parts.extend(clip_figure(clip) for clip in run.clips)
    parts.append("</section>")
    return "\n".join(parts)


def _image(asset: Asset) -> str:
    return (
        f'<figure><img class="asset" src="{data_uri("image/png", asset.data)}" '
        f'alt="{escape(asset.name)}"><figcaption>{escape(asset.name)}</figcaption></figure>'
    )


def clip_figure(clip: Clip) -> str:
    """One audio clip as a figure: caption, player (WAV data URI) and MIDI download link."""
    caption = escape(clip.name) + (f" — {escape(clip.note)}" if clip.note else "")
    parts = [f'<figure class="clip"><figcaption>{caption}</figcaption>']
    if clip.wav is not None:
        parts.append(
            f'<audio controls preload="metadata" src="{data_uri("audio/wav", clip.wav)}">'
            "</audio>"
        )
    if clip.midi is not None:
        name = escape(clip.name.rsplit("/", 1)[-1] + ".mid")
        parts.append(
            f'<a download="{name}" href="{data_uri("audio/midi", clip.midi)}">MIDI</a>'
        )
    parts.append("</figure>")
    return "".join(parts)
