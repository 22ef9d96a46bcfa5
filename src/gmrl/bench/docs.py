"""Rewrite only a generated region of a Markdown file (the quick run's, the headline table).

The region lies between two markers (`START` and `END` for the quick run's); everything
outside it is kept byte for byte. When the markers are absent they are inserted after the intro,
just before the first `## ` heading.
"""

from pathlib import Path

from gmrl.core.checkpoint import atomic_write_text
from gmrl.core.errors import GmrlError

START = "<!-- bench-all:quick:start -->"
END = "<!-- bench-all:quick:end -->"


def _insertion_point(text: str) -> int:
    """Offset of the first `## ` heading (the end of the intro), or the end of the text."""
    found = text.find("\n## ")
    return found + 1 if found != -1 else len(text)


def replace_region(text: str, body: str, start_marker: str = START,
                   end_marker: str = END) -> str:
    """`text` with the marked region's content set to `body` (markers added if absent)."""
    START, END = start_marker, end_marker
    block = f"{START}\n{body.strip()}\n{END}"
    if START in text and END in text:
        start, end = text.index(START), text.index(END)
        if end < start:
            raise GmrlError(f"'{END}' comes before '{START}' in the document: fix the markers")
        return text[:start] + block + text[end + len(END):]
    if START in text or END in text:
        raise GmrlError(f"only one of '{START}' / '{END}' is in the document: add the other "
                        "or remove it")
    at = _insertion_point(text)
    head = text[:at]
    sep = "" if head.endswith("\n\n") or not head else ("\n" if head.endswith("\n") else "\n\n")
    return head + sep + block + "\n\n" + text[at:]


def update_docs(path: Path, body: str, start_marker: str = START, end_marker: str = END) -> bool:
    """Rewrite the region of `path` (created if missing); True when the file changed."""
    current = path.read_text() if path.is_file() else "# Benchmarks\n\n"
    new = replace_region(current, body, start_marker, end_marker)
    if new == current:
        return False
    atomic_write_text(path, new)
    return True
