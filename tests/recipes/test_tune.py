"""`gmrl run configs/tune/token_frequency.yaml` end to end with a tiny budget."""

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gmrl.cli import app

CONFIG = str(Path(__file__).resolve().parents[2] / "configs" / "tune" / "token_frequency.yaml")
TINY = [
    "data.num_sequences=300", "pretrain.epochs=1", "steps=6", "checkpoint_every=3",
    "eval_samples=128", "tuner.batch_size=32", "model.hidden=32", "device=cpu",
]


def _run(tmp_path: Path, *args: str) -> tuple[int, str, Path | None]:
    result = CliRunner().invoke(app, ["run", *args, "--runs", str(tmp_path), "--quiet"])
    runs = sorted(p for p in tmp_path.iterdir() if p.is_dir()) if tmp_path.exists() else []
    return result.exit_code, result.output, (runs[-1] if runs else None)


def _metrics(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "metrics.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_tune_recipe_writes_summary_metrics_plot_and_checkpoints(tmp_path) -> None:
    code, output, run_dir = _run(tmp_path, CONFIG, *TINY)
    assert code == 0, output
    summary = json.loads((run_dir / "summary.json").read_text())
    for key in ("pretrained/reward", "tuned/reward", "tuned/held_out_nll", "tune/kl"):
        assert key in summary
    for key in ("token_entropy", "distinct_2", "distinct_3", "unique", "top_token_share",
                "run_share", "attractor"):  # the reward is never reported without these
        assert f"pretrained/{key}" in summary and f"tuned/{key}" in summary
    assert summary["tuned/attractor"] in (0.0, 1.0)
    assert summary["tune/steps"] == 6 and summary["stopped_early"] == 0
    rows = _metrics(run_dir)
    tune_rows = [r for r in rows if r.get("tune/reward")]
    assert len(tune_rows) == 6 and [int(r["step"]) for r in tune_rows] == list(range(2, 8))
    for key in ("tune/kl", "tune/entropy", "tune/distinct_2", "tune/beta"):
        assert tune_rows[-1][key] != ""
    assert (run_dir / "plots" / "tuning.png").stat().st_size > 0
    assert (run_dir / "checkpoints" / "latest.json").is_file()
    assert (run_dir / "tuned_model.safetensors").is_file()


def test_resumed_run_matches_an_uninterrupted_one(tmp_path) -> None:
    code, output, whole = _run(tmp_path / "a", CONFIG, *TINY)
    assert code == 0, output
    code, output, part = _run(tmp_path / "b", CONFIG, *TINY[:2], "steps=3", *TINY[3:])
    assert code == 0, output
    result = CliRunner().invoke(app, ["run", "--resume", str(part), "steps=6", "--quiet"])
    assert result.exit_code == 0, result.output
    assert _metrics(part) == _metrics(whole)


def test_kl_limit_stop_exits_with_a_one_line_error_and_keeps_outputs(tmp_path) -> None:
    code, output, run_dir = _run(tmp_path, CONFIG, *TINY, "tuner.kl_limit=0.0001")
    assert code == 2
    assert "kl_limit" in output and "restored" in output
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["stopped_early"] == 1 and summary["tune/steps"] == 0
    assert (run_dir / "plots" / "tuning.png").is_file()


def test_bad_reward_fails_before_any_run_directory(tmp_path) -> None:
    code, output, run_dir = _run(tmp_path, CONFIG, *TINY, "reward.name=length")
    assert code == 2 and "unknown reward 'length'" in output
    assert run_dir is None
    code, output, _ = _run(tmp_path, CONFIG, *TINY, "reward.params.token=99")
    assert code == 2 and "outside the vocabulary" in output


def _config(*overrides: str):
    from gmrl.core.config import apply_overrides, read_yaml_mapping, validate_config
    from gmrl.recipes.tune import Config

    data = apply_overrides(read_yaml_mapping(CONFIG), [*TINY, *overrides])
    return validate_config(Config, data, CONFIG)


@pytest.mark.parametrize(
    ("stop_at", "crash"),
    [(1, False), (4, False), (7, True)],
    ids=["ctrl-c-in-pretraining", "ctrl-c-in-tuning", "crash-after-a-tuning-checkpoint"],
)
def test_interrupted_and_resumed_run_is_exact(tmp_path, stop_at, crash) -> None:
    """Stopped during pre-training or tuning (Ctrl-C), or crashed after a periodic checkpoint:
    the resumed run writes byte-identical metrics.csv and summary.json."""
    from gmrl.recipes import tune

    from . import assert_exact_resume

    config = _config("pretrain.epochs=2", "tuner.baseline=learned", "tuner.estimator=ppo")
    assert assert_exact_resume(tune, config, tmp_path, stop_at, crash=crash) == stop_at


def test_infinite_or_missing_settings_are_refused_up_front(tmp_path) -> None:
    for bad in ("pretrain.lr=inf", "tuner.lr=.nan", "tuner.kl_limit=-1", "data.source=npy"):
        code, output, run_dir = _run(tmp_path, CONFIG, *TINY, bad)
        assert code == 2, (bad, output)
        assert len(output.strip().splitlines()) == 1 and "Traceback" not in output, output
        assert run_dir is None
