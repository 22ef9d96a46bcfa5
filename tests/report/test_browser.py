"""The report in a real headless browser: Debian's chromium driven by playwright.

The system browser is used (`executable_path`), so playwright downloads nothing; `.ci/run`
installs chromium when it runs as root. The test is skipped only when no chromium is installed.
"""

import shutil
from pathlib import Path

import pytest

from gmrl.report.builder import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)


def test_report_loads_cleanly_with_plots_tables_and_audio(
    generative_runs: list[Path], music_run: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    out = write_report([*generative_runs, music_run], tmp_path / "report.html", title="browser")
    problems: list[str] = []
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page()
            page.on("console", lambda m: m.type in ("error", "warning") and problems.append(
                f"console {m.type}: {m.text}"))
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(out.resolve().as_uri(), wait_until="load")
            # every image decoded: curves (losses, eval, tune for the music run) + the runs' PNGs
            widths = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
            page.wait_for_function(
                "() => Array.from(document.querySelectorAll('audio'))"
                ".every(a => a.readyState >= 1 && a.duration > 0)",
                timeout=10_000,
            )
            durations = page.eval_on_selector_all("audio", "els => els.map(e => e.duration)")
            tables = page.eval_on_selector_all("table", "els => els.map(e => e.rows.length)")
            title = page.title()
        finally:
            browser.close()
    assert problems == []
    assert requests == [out.resolve().as_uri()]  # nothing but the file itself was fetched
    assert title == "browser"
    own_pngs = sum(len(list((p / "plots").glob("*.png"))) for p in generative_runs) + 1
    assert len(widths) == 3 + own_pngs
    assert all(width > 0 for width in widths)
    assert durations == pytest.approx([0.5, 4.0], abs=0.01)  # the WAV and the rendered MIDI
    assert len(tables) == 3 and tables[0] == 1 + 3  # overview: a header and one row per run
