"""The command line: version, listing, and bad input refused with one line and exit 2."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

import gmrl
from gmrl.cli import app

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and gmrl.__version__ in result.output


def test_list_shows_recipes_models_algorithms() -> None:
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0
    for name in ("generative", "flow", "diffusion", "q_learning", "ppo"):
        assert name in result.output


def test_help_has_examples() -> None:
    result = runner.invoke(app, ["run", "--help"])
    assert result.exit_code == 0 and "Examples" in result.output


@pytest.mark.parametrize(
    ("text", "args", "expected"),
    [
        ("recipe: generative\nepoch: 3\n", [], "did you mean 'epochs'"),
        ("recipe: generative\n", ["model.nme=vae"], "did you mean 'model.name'"),
        ("recipe: generative\nepochs: lots\n", [], "key 'epochs'"),
        ("recipe: generative\nepochs: [1\n", [], "malformed YAML"),
        ("recipe: generatve\n", [], "did you mean 'generative'"),
        ("recipe: generative\nmodel: {name: nosuch}\n", [], "unknown generative model 'nosuch'"),
        (
            "recipe: generative\nmodel: {name: flow, params: {bogus: 1}}\n",
            [],
            "bad parameters for model 'flow'",
        ),
    ],
)
def test_bad_config_exits_2_with_one_line(
    tmp_path: Path, text: str, args: list[str], expected: str
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    runs = tmp_path / "runs"
    result = runner.invoke(app, ["run", str(config), *args, "--runs", str(runs), "--quiet"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert expected in lines[0]
    assert not runs.exists(), "no run directory may be created for a bad config"


def test_missing_config_file(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["run", str(tmp_path / "nope.yaml"), "--runs", str(tmp_path / "runs")]
    )
    assert result.exit_code == 2 and "not found" in result.output
    assert not (tmp_path / "runs").exists()


def test_resume_of_non_run_directory(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--resume", str(tmp_path)])
    assert result.exit_code == 2 and "not a gmrl run directory" in result.output
