"""The Pareto front of a music sweep: dominance on constructed points, reading a sweep's trials,
the plot, tables and clips written from fake trial summaries (no training)."""

import json
from pathlib import Path

import pytest

from gmrl.core.errors import ConfigError
from gmrl.music.pareto import non_dominated, read_front, write_front
from gmrl.music.render import read_token_file

SENSES = ("max", "max", "min")  # theory, log p, memorisation


def test_non_dominated_on_constructed_points() -> None:
    points = [
        [10.0, -50.0, 0.01],  # 0: best theory
        [5.0, -30.0, 0.01],   # 1: best log p
        [5.0, -40.0, 0.01],   # 2: beaten by 1 (same theory and memorisation, lower log p)
        [4.0, -35.0, 0.00],   # 3: no copying: kept by the third axis alone
        [4.0, -35.0, 0.00],   # 4: a tie with 3: both kept
        [9.0, -60.0, 0.02],   # 5: beaten by 0 on every axis
        [float("nan"), -1.0, 0.0],  # 6: unmeasured: never on the front
    ]
    assert non_dominated(points, SENSES) == [True, True, False, True, True, False, False]
    # the senses matter: minimising theory makes the lowest theory scores the front
    assert non_dominated([[1.0], [2.0]], ["min"]) == [True, False]
    assert non_dominated([[1.0], [2.0]], ["max"]) == [False, True]


# four KL weights: (theory score, log p, memorisation); beta 0.3 is beaten by 0.2 on every axis
POINTS = {0.05: (40.0, -90.0, 0.0), 0.2: (30.0, -50.0, 0.0), 0.3: (25.0, -55.0, 0.01),
          1.0: (5.0, -25.0, 0.02)}


def test_read_front_averages_seeds_and_names_the_ends(tmp_path: Path, music_sweep) -> None:
    front = read_front(music_sweep(tmp_path, POINTS))
    by_beta = {p.beta: p for p in front.points}
    assert sorted(by_beta) == [0.05, 0.2, 0.3, 1.0]  # the unfinished trial is left out
    assert by_beta[0.2].seeds == [0, 1]
    assert by_beta[0.2].value("music_reward") == pytest.approx(30.25)
    assert by_beta[0.2].value("log_p") == pytest.approx(-50.25)
    # beta 0.3 is beaten by 0.2 on every axis; the others each win somewhere
    assert {b for b, p in by_beta.items() if p.on_front} == {0.05, 0.2, 1.0}
    assert front.theory_end is by_beta[0.05] and front.log_p_end is by_beta[1.0]
    assert front.references["note_rnn"]["log_p"] == -20.0
    assert front.references["corpus"]["memorisation_16"] == 0.3


def test_a_point_the_guard_stopped_is_reported_and_kept_off_the_front(
        tmp_path: Path, music_sweep) -> None:
    """Beta 0.05 has the best theory score, but one of its seeds was stopped by the collapse
    guard: it is counted as stopped, is not on the front and beats nothing there."""
    sweep = music_sweep(tmp_path, {**POINTS, 0.01: (50.0, -20.0, 0.0)})
    stopped = sweep / "trials" / "tuning.tuner.beta-0.01-seed1" / "summary.json"
    summary = json.loads(stopped.read_text())
    stopped.write_text(json.dumps({**summary, "tune/stopped_early": 1.0}))
    front = read_front(sweep)
    by_beta = {p.beta: p for p in front.points}
    assert by_beta[0.01].stopped == 1 and not by_beta[0.01].on_front
    # it would dominate every other point; stopped, it leaves the front as it was
    assert {b for b, p in by_beta.items() if p.on_front} == {0.05, 0.2, 1.0}
    assert all(p.stopped == 0 for b, p in by_beta.items() if b != 0.01)
    files = write_front(sweep, tmp_path / "out")
    row = next(line for line in files.markdown.read_text().splitlines() if "-0.01 |" in line)
    assert row.split("|")[4].strip() == "1"  # the "stopped by the guard" column


def test_write_front_writes_plot_tables_and_clips_of_both_ends_and_the_corpus(
    tmp_path: Path, music_sweep
) -> None:
    sweep = music_sweep(tmp_path, POINTS)
    files = write_front(sweep, clips=3)
    assert files.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    document = json.loads(files.json.read_text())
    assert document["theory_end"] == "tuning.tuner.beta-0.05"
    assert [p["on_front"] for p in document["points"]].count(True) == 3
    assert "| tuning.tuner.beta-0.3 | 0.3 | 2 |" in files.markdown.read_text()
    assert set(files.clips) == {"theory_end", "log_p_end", "corpus"} and not files.notes
    for _, folder in files.clips.values():
        assert len(list(folder.glob("*.wav"))) == 3 and len(list(folder.glob("*.mid"))) == 3
    # the clips of an end are that end's own compositions (its first seed, first rows)
    kept = read_token_file(sweep / "trials" / "tuning.tuner.beta-1-seed0" / "compositions.txt")
    from gmrl.music.midi import midi_to_events

    again = midi_to_events(files.clips["log_p_end"][1] / "log_p_end_000.mid")
    assert again.tolist() == kept[0].tolist()


def test_a_folder_that_is_not_a_finished_music_sweep_is_one_line(
    tmp_path: Path, music_sweep
) -> None:
    with pytest.raises(ConfigError, match="not a sweep directory"):
        read_front(tmp_path)
    (tmp_path / "trials").mkdir()
    with pytest.raises(ConfigError, match=r"no trial .* has finished"):
        read_front(tmp_path)
    other = music_sweep(tmp_path / "x", {0.1: (1.0, -1.0, 0.0)}, recipe="generative")
    with pytest.raises(ConfigError, match="recipe 'generative'"):
        read_front(other)
