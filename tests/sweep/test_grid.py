"""Grid options into points, typed like `gmrl run` overrides; bad grids and bad keys refused in
one line before Ray is touched, with nothing written."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gmrl.cli import app
from gmrl.core.errors import ConfigError
from gmrl.sweep import runner as sweep_runner
from gmrl.sweep.grid import grid_points, parse_grid, point_label, split_values
from gmrl.sweep.spec import validate

from .conftest import MOONS, TINY, tiny_spec

cli = CliRunner()


def test_split_values_keeps_brackets_and_quotes_whole() -> None:
    assert split_values("1,2, 3") == ["1", "2", "3"]
    assert split_values("[64,64],[128]") == ["[64,64]", "[128]"]
    assert split_values("{a: 1, b: 2},'x,y'") == ["{a: 1, b: 2}", "'x,y'"]


def test_parse_grid_keeps_order_and_points_are_typed_like_overrides() -> None:
    grid = parse_grid(["model.name=flow,vae", "epochs=2,4", "lr=1.0e-3"])
    assert grid == {"model.name": ["flow", "vae"], "epochs": ["2", "4"], "lr": ["1.0e-3"]}
    points = grid_points(grid)
    assert [p.label for p in points] == [
        "model.name-flow_epochs-2_lr-1.0e-3", "model.name-flow_epochs-4_lr-1.0e-3",
        "model.name-vae_epochs-2_lr-1.0e-3", "model.name-vae_epochs-4_lr-1.0e-3",
    ]
    assert points[1].params() == {"model.name": "flow", "epochs": 4, "lr": 0.001}
    assert points[1].overrides == ["model.name=flow", "epochs=4", "lr=1.0e-3"]


def test_labels_are_safe_names_and_distinct() -> None:
    assert point_label([]) == "base"
    odd = point_label([("model.params.hidden", "[64, 64]")])
    assert "/" not in odd and " " not in odd and odd != point_label([("model.params.hidden",
                                                                       "[64,64]")])
    assert len(point_label([("k", "x" * 300)])) < 100


@pytest.mark.parametrize(
    ("option", "words"),
    [
        ("epochs", "must look like key=v1,v2"),
        ("seed=1,2", "use --seeds"),
        ("recipe=rl", "one recipe"),
        ("epochs=2,,4", "empty value"),
        ("epochs=2,2", "repeats a value"),
        ("a..b=1", "empty key part"),
    ],
)
def test_bad_grid_options_are_one_line(option: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse_grid([option])


def test_duplicate_key_refused() -> None:
    with pytest.raises(ConfigError, match="twice"):
        parse_grid(["epochs=1", "epochs=2"])


def test_validate_checks_every_point() -> None:
    assert validate(tiny_spec(["model.name=flow,vae", "batch_size=32,64"], seeds=3)) == 4
    with pytest.raises(ConfigError, match=r"batch_size.*greater than or equal to 1"):
        validate(tiny_spec(["model.name=flow,vae", "batch_size=32,0"]))


def _no_ray(*args: object, **kwargs: object) -> None:
    raise AssertionError("Ray must not be reached for a bad config")


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ("model.nme=flow,vae", "unknown key 'model.nme'; did you mean 'model.name'?"),
        ("epochs=2,many", "bad value 'many' for key 'epochs'"),
        ("model.name=flow,nosuchmodel", "nosuchmodel"),
    ],
)
def test_cli_bad_key_or_value_fails_before_ray(
    grid: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sweep_runner, "require_ray", _no_ray)
    monkeypatch.setattr(sweep_runner, "ray_session", _no_ray)
    runs = tmp_path / "runs"
    result = cli.invoke(app, ["sweep", str(MOONS), *TINY, "--grid", grid, "--runs", str(runs)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]
    assert not runs.exists()


def test_cli_check_counts_runs_and_writes_nothing(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    result = cli.invoke(app, ["sweep", str(MOONS), *TINY, "-g", "model.name=flow,vae",
                              "--seeds", "3", "--runs", str(runs), "--check"])
    assert result.exit_code == 0, result.output
    assert "2 points x 3 seeds (6 runs)" in result.output and not runs.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--search", "optuna"], "needs --metric"),
        (["--search", "random", "--metric", "mmd"], "must be grid or optuna"),
        (["--mode", "up"], "must be max or min"),
        (["--address", "auto", "--num-cpus", "2"], "--num-cpus sizes a local Ray"),
    ],
)
def test_cli_bad_options_are_one_line(extra: list[str], message: str, tmp_path: Path) -> None:
    result = cli.invoke(app, ["sweep", str(MOONS), "-g", "epochs=1,2", *extra,
                              "--runs", str(tmp_path / "runs")])
    assert result.exit_code == 2 and message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_cli_resume_of_a_folder_that_is_no_sweep(tmp_path: Path) -> None:
    result = cli.invoke(app, ["sweep", "--resume", str(tmp_path)])
    assert result.exit_code == 2 and "not a gmrl sweep directory" in result.output
