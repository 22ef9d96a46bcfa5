"""`gmrl report`: content of the page, self-containment, escaping, audio, and bad inputs."""

import base64
import io
import json
import wave
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gmrl.cli import app
from gmrl.report.audio import find_clips
from gmrl.report.builder import build_report, write_report
from gmrl.report.figures import metric_groups
from gmrl.report.reader import ReportError, read_metrics, read_run

from .conftest import MIDI_STEPS, WAV_SECONDS, write_wav


class Elements(HTMLParser):
    """Every start tag with its attributes, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def of(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def parse(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    return parser


def wav_of(src: str | None) -> wave.Wave_read:
    assert src is not None and src.startswith("data:audio/wav;base64,")
    return wave.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])), "rb")


def test_two_runs_are_compared(generative_runs: list[Path]) -> None:
    html = build_report(generative_runs, title="moons")
    page = parse(html)
    runs = [read_run(path) for path in generative_runs]
    groups = metric_groups(runs)
    assert set(groups) == {"losses", "eval"}
    assert "eval/mmd" in groups["eval"]
    own_pngs = sum(len(list((path / "plots").glob("*.png"))) for path in generative_runs)
    images = page.of("img")
    assert len(images) == len(groups) + own_pngs == 2 + 4
    assert all((img["src"] or "").startswith("data:image/png;base64,iVBOR") for img in images)
    assert len(page.of("table")) == 3  # overview, summary, config differences
    # the config differences name the seed (the only key that differs) with both values
    diff = html.split('class="configdiff"', 1)[1].split("</table>", 1)[0]
    assert "<code>seed</code>" in diff and "<td>0</td><td>1</td>" in diff
    assert "n_train" not in diff
    # summary figures side by side, one column per run
    mmd = [json.loads((p / "summary.json").read_text())["mmd"] for p in generative_runs]
    assert f"<th>mmd</th><td>{mmd[0]:.4g}</td><td>{mmd[1]:.4g}</td>" in html


def test_the_page_is_self_contained(generative_runs: list[Path], music_run: Path) -> None:
    html = build_report([*generative_runs, music_run])
    assert "http://" not in html and "https://" not in html
    page = parse(html)
    assert not page.of("script") and not page.of("iframe")
    assert all(attrs.get("rel") != "stylesheet" for attrs in page.of("link"))
    for _, attrs in page.tags:
        for key in ("src", "href"):
            value = attrs.get(key)
            if value is not None:
                assert value.startswith(("data:", "#")), value
    csp = [m for m in page.of("meta") if m.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in (csp[0]["content"] or "")


def test_music_run_has_players_for_wav_and_rendered_midi(music_run: Path) -> None:
    page = parse(build_report([music_run]))
    audio = page.of("audio")
    assert len(audio) == 2  # checkpoints/ignored.wav is left out
    with wav_of(audio[0]["src"]) as first:  # the run's own WAV, embedded as it is
        assert first.getnframes() == round(WAV_SECONDS * first.getframerate())
    with wav_of(audio[1]["src"]) as rendered:  # MIDI only: rendered by gmrl's synthesiser
        seconds = rendered.getnframes() / rendered.getframerate()
        assert seconds == pytest.approx(MIDI_STEPS * 0.125, abs=0.01)  # 16ths at 120 bpm
    midi_links = [a for a in page.of("a") if a.get("download")]
    assert [a["download"] for a in midi_links] == ["rloo_000.mid", "rloo_001.mid"]
    images = page.of("img")
    assert len(images) == 3  # tune and eval curves + the piano roll
    assert images[-1]["alt"] == "samples/rloo_pianoroll.png"


def test_unplayable_wav_without_midi_is_a_note_not_a_player(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("recipe: music\n")
    (tmp_path / "broken.wav").write_bytes(b"RIFF\x00\x00not a wave")
    write_wav(tmp_path / "good.wav")
    clips, _ = find_clips(tmp_path)
    assert [(c.name, c.wav is not None) for c in clips] == [("broken", False), ("good", True)]
    assert "not playable" in clips[0].note
    html = build_report([tmp_path])
    assert html.count("<audio") == 1 and "broken.wav not playable" in html


def test_text_from_the_run_is_escaped(tmp_path: Path) -> None:
    run = tmp_path / "<script>alert(1)&"
    run.mkdir()
    (run / "config.yaml").write_text('recipe: generative\nnote: "<img src=x onerror=alert(2)>"\n')
    (run / "metrics.csv").write_text("step,<b>loss</b>\n1,1.0\n2,0.5\n")
    (run / "summary.json").write_text(json.dumps({"<i>k</i>": "<u>v</u>"}))
    html = build_report([run], title="<title>&")
    page = parse(html)
    assert not page.of("script") and not page.of("b") and not page.of("i") and not page.of("u")
    # the metric's group is "<b>loss<" (the text before its '/'): text in the page, not a tag
    assert [img["alt"] for img in page.of("img")] == ["<b>loss< learning curves"]
    assert "&lt;script&gt;alert(1)&amp;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "<title>&lt;title&gt;&amp;</title>" in html


def test_metrics_reading(tmp_path: Path) -> None:
    file = tmp_path / "metrics.csv"
    file.write_text("step,a/x,a/y,label,b\n1,1.0,,foo,nan\n2,2.0,5,bar,inf\n3,3.0,,baz,1\n")
    metrics = read_metrics(file)
    assert set(metrics) == {"a/x", "a/y", "b"}  # the text column is left out
    assert metrics["a/x"].steps == [1, 2, 3] and metrics["a/x"].values == [1.0, 2.0, 3.0]
    assert metrics["a/y"].steps == [2] and metrics["a/y"].values == [5.0]  # empty cells skipped
    assert metrics["b"].values == [1.0]  # NaN and inf are not drawn
    file.write_text("epoch,loss\n1,0.5\n")
    with pytest.raises(ReportError, match="no 'step' column"):
        read_metrics(file)


def test_cli_writes_the_report(generative_runs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "sub" / "r.html"
    result = CliRunner().invoke(
        app, ["report", *map(str, generative_runs), "-o", str(out), "--title", "two seeds"]
    )
    assert result.exit_code == 0, result.output
    assert f"report: {out}" in result.output
    assert "<title>two seeds</title>" in out.read_text()
    assert [p.name for p in out.parent.iterdir()] == ["r.html"]  # no temp file left behind


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", "not found"),
        (lambda p: p, "no config.yaml"),
        (lambda p: (p / "file.txt").write_text("x") and p / "file.txt", "is a file"),
    ],
)
def test_a_bad_path_is_one_line_and_keeps_the_old_report(
    generative_runs: list[Path], tmp_path: Path, make, message: str
) -> None:
    bad = make(tmp_path)
    out = tmp_path / "report.html"
    out.write_text("old report")
    result = CliRunner().invoke(app, ["report", str(generative_runs[0]), str(bad), "-o", str(out)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]
    assert str(bad) in result.output.replace("\n", "")
    assert out.read_text() == "old report"
    assert "Traceback" not in result.output


def test_corrupt_summary_and_folder_output_are_refused(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("recipe: rl\n")
    (run / "summary.json").write_text("{not json")
    result = CliRunner().invoke(app, ["report", str(run), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 2 and "summary.json is not valid JSON" in result.output
    assert not (tmp_path / "r.html").exists()
    (run / "summary.json").write_text("{}")
    with pytest.raises(ReportError, match="is a folder"):
        write_report([run], tmp_path)
