"""`gmrl report SWEEP_DIR` on a music sweep: one page with the Pareto plot, the points, links to
the trials and audio of both ends of the front and of the corpus (fake trial summaries)."""

import base64
from pathlib import Path

from typer.testing import CliRunner

from gmrl.cli import app

POINTS = {0.05: (40.0, -90.0, 0.0), 0.2: (30.0, -50.0, 0.0), 0.3: (25.0, -55.0, 0.01),
          1.0: (5.0, -25.0, 0.02)}


def test_report_of_a_music_sweep_is_its_pareto_page(tmp_path: Path, music_sweep) -> None:
    sweep = music_sweep(tmp_path, POINTS)
    out = tmp_path / "pages" / "pareto.html"
    out.parent.mkdir()
    result = CliRunner().invoke(app, ["report", str(sweep), "-o", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    png = (sweep / "pareto" / "front.png").read_bytes()
    assert base64.b64encode(png).decode() in page  # the plot written to disk, inlined
    assert page.count("<audio") == 15  # five clips from each end and five corpus melodies
    assert 'href="../sweep-music-test/pareto/front.png"' in page  # relative to the page
    assert 'href="../sweep-music-test/trials/tuning.tuner.beta-0.3-seed1"' in page
    assert "End of the front with the highest log p: beta 1" in page
    assert page.count("<td>yes</td>") == 3  # beta 0.3 is dominated


def test_a_sweep_of_another_recipe_or_a_sweep_among_runs_is_one_line(
    tmp_path: Path, music_sweep
) -> None:
    other = music_sweep(tmp_path / "a", {0.1: (1.0, -1.0, 0.0)}, recipe="generative")
    result = CliRunner().invoke(app, ["report", str(other), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 2
    assert "music sweeps only" in result.output and "Traceback" not in result.output
    music = music_sweep(tmp_path / "b", POINTS)
    result = CliRunner().invoke(app, ["report", str(music), str(other), "-o",
                                      str(tmp_path / "r.html")])
    assert result.exit_code == 2 and "give it alone" in result.output
    assert not (tmp_path / "r.html").exists()
