"""The SeqGAN recipe end to end on its CI-sized `quick` config, through the real CLI."""

import json

import pytest
from typer.testing import CliRunner

from gmrl.cli import app
from gmrl.sequence.data import ORACLE_FILE, find_shared_file

pytestmark = pytest.mark.skipif(
    find_shared_file(ORACLE_FILE) is None,
    reason=f"{ORACLE_FILE} not found (set GMRL_SHARED_DATA to the shared/data folder)",
)


def test_quick_recipe_writes_tokens_metrics_and_summary(tmp_path):
    result = CliRunner().invoke(
        app, ["run", "configs/seqgan/quick.yaml", "--runs", str(tmp_path), "-q"]
    )
    assert result.exit_code == 0, result.output
    (run_dir,) = tmp_path.iterdir()
    lines = (run_dir / "samples_seqgan.txt").read_text().splitlines()
    assert len(lines) == 32
    assert all(len(line.split()) == 20 for line in lines)
    assert all(0 <= int(tok) < 5000 for tok in lines[0].split())
    assert (run_dir / "samples_mle.txt").is_file()
    header = (run_dir / "metrics.csv").read_text().splitlines()[0]
    assert "eval/nll_oracle" in header and "eval/nll_test" in header
    summary = json.loads((run_dir / "summary.json").read_text())
    for key in ("random/nll_oracle", "mle/nll_oracle", "ss/nll_oracle", "seqgan/nll_oracle",
                "mle_t0.8/nll_oracle", "seqgan/nll_test", "pg_bleu/nll_oracle"):
        assert key in summary
    assert summary["random/nll_oracle"] > 10.0
    assert (run_dir / "plots" / "nll_oracle.png").is_file()
    assert list((run_dir / "checkpoints").glob("state-*.safetensors"))


def test_resume_continues_to_the_same_result(tmp_path):
    """A run resumed from its MLE checkpoint ends with the same metrics as an uninterrupted one."""
    runner = CliRunner()
    base = ["configs/seqgan/quick.yaml", "baselines.ss_epochs=0", "eval.temperatures=[]"]
    first = runner.invoke(app, ["run", *base, "--runs", str(tmp_path / "a"), "-q"])
    assert first.exit_code == 0, first.output
    (run_a,) = (tmp_path / "a").iterdir()
    # Rebuild an "interrupted" copy: keep only the first MLE checkpoint and its metrics rows.
    import shutil

    run_b = tmp_path / "b" / run_a.name
    shutil.copytree(run_a, run_b)
    checkpoints = sorted((run_b / "checkpoints").glob("state-*.safetensors"))
    for extra in checkpoints[1:]:
        extra.unlink()
    step = int(checkpoints[0].stem.split("-")[1])
    (run_b / "checkpoints" / "latest.json").write_text(
        json.dumps({"step": step, "file": checkpoints[0].name})
    )
    resumed = runner.invoke(app, ["run", "--resume", str(run_b), "-q"])
    assert resumed.exit_code == 0, resumed.output
    assert (run_b / "metrics.csv").read_text() == (run_a / "metrics.csv").read_text()


def test_bad_config_key_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(
        app, ["run", "configs/seqgan/quick.yaml", "adversarial.rollouts=4", "--runs", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "adversarial.n_rollouts" in result.output
