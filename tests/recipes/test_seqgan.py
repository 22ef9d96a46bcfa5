"""The SeqGAN recipe end to end on its CI-sized `quick` config, through the real CLI."""

import json

import pytest
import torch
from typer.testing import CliRunner

from gmrl.cli import app
from gmrl.core.rundir import RunDir
from gmrl.sequence.data import ORACLE_FILE, find_shared_file, oracle_path
from gmrl.sequence.diversity import sequence_diversity
from gmrl.sequence.oracle import OracleLSTM
from gmrl.sequence.tokens import read_token_file

QUICK = "configs/seqgan/quick.yaml"

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
    assert len(lines) == 256  # quick: every scored sample
    assert all(len(line.split()) == 20 for line in lines)
    assert all(0 <= int(tok) < 5000 for tok in lines[0].split())
    header = (run_dir / "metrics.csv").read_text().splitlines()[0]
    assert "eval/nll_oracle" in header and "eval/nll_test" in header
    assert "eval/token_entropy" in header and "eval/distinct_2" in header
    summary = json.loads((run_dir / "summary.json").read_text())
    oracle = OracleLSTM.from_npz(oracle_path())
    for row in ("mle", "mle_t0.8", "ss", "pg_bleu", "seqgan"):
        # Each token file holds the samples its row was scored on: rescoring reproduces it.
        tokens = torch.from_numpy(read_token_file(run_dir / f"samples_{row}.txt"))
        assert oracle.nll(tokens) == pytest.approx(summary[f"{row}/nll_oracle"], rel=1e-6)
        diversity = sequence_diversity(tokens)
        for key in ("token_entropy", "distinct_2", "distinct_3", "unique_fraction",
                    "run_share"):
            assert summary[f"{row}/{key}"] == pytest.approx(diversity[key])
        assert summary[f"{row}/attractor"] in (0.0, 1.0)
    assert summary["oracle/nll_oracle"] < summary["random/nll_oracle"] - 3.0  # reference row
    for key in ("random/nll_oracle", "mle/nll_oracle", "ss/nll_oracle", "seqgan/nll_oracle",
                "mle_t0.8/nll_oracle", "seqgan/nll_test", "pg_bleu/nll_oracle"):
        assert key in summary
    assert summary["random/nll_oracle"] > 10.0
    assert (run_dir / "plots" / "nll_oracle.png").is_file()
    assert list((run_dir / "checkpoints").glob("state-*.safetensors"))


def test_token_files_cannot_ask_for_more_than_the_scored_samples():
    from pydantic import ValidationError

    from gmrl.recipes.seqgan import Config

    with pytest.raises(ValidationError, match=r"eval\.write_samples"):
        Config(eval={"final_samples": 100, "write_samples": 200})


def _quick_config():
    from gmrl.core.config import read_yaml_mapping, validate_config
    from gmrl.recipes.seqgan import Config

    return validate_config(Config, read_yaml_mapping(QUICK), QUICK)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """One uninterrupted quick run (2 MLE epochs, 1 discriminator round, 2 adversarial rounds;
    every step is a checkpoint) that the interrupted runs must reproduce."""
    from gmrl.recipes import seqgan

    from . import straight_run

    return straight_run(seqgan, _quick_config(), tmp_path_factory.mktemp("straight"))


@pytest.mark.parametrize(("stop_at", "crash"), [(1, False), (5, True)],
                         ids=["ctrl-c-in-mle", "crash-in-adversarial-rounds"])
def test_interrupted_and_resumed_run_is_exact(tmp_path, straight, stop_at, crash):
    """Stopped by Ctrl-C after an MLE epoch, or crashed in the last adversarial round (resumed
    from the round before, restoring rollout network, discriminator and both optimizers)."""
    from gmrl.recipes import seqgan

    from . import assert_exact_resume

    stopped = assert_exact_resume(seqgan, _quick_config(), tmp_path, stop_at, crash=crash,
                                  reference=straight)
    assert stopped == stop_at


def test_ctrl_c_during_the_mle_baselines_resumes_exactly(tmp_path, straight, monkeypatch):
    """Ctrl-C while the MLE figures and baselines run (between the last MLE epoch and the next
    step): the run is saved as of that epoch, and the resumed run redoes them identically."""
    from gmrl.core.errors import RunInterrupted
    from gmrl.recipes import seqgan

    from . import StopAtStep, assert_same_outputs, run_to_end

    original = seqgan._SeqGANRun._mle_figures
    pressed: list[int] = []

    def press_ctrl_c_first(self, stop):
        if not pressed:
            pressed.append(1)
            self.run.stop_requested = True  # as the SIGINT handler does, mid-baselines
        return original(self, stop)

    monkeypatch.setattr(seqgan._SeqGANRun, "_mle_figures", press_ctrl_c_first)
    config = _quick_config()
    from gmrl.core.config import dump_config

    run = StopAtStep.create(tmp_path, "seqgan", dump_config(config), quiet=True)
    with pytest.raises(RunInterrupted) as stop:
        seqgan.run(config, run)
    run.close()
    mle_epochs = config.effective().pretrain.mle_epochs
    assert stop.value.step == mle_epochs
    assert not (run.path / "summary.json").exists()
    resumed = RunDir.open_existing(run.path, quiet=True)
    run_to_end(seqgan, config, resumed)
    assert pressed == [1]
    assert_same_outputs(resumed.path, straight)


def test_bad_config_key_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(
        app, ["run", "configs/seqgan/quick.yaml", "adversarial.rollouts=4", "--runs", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "adversarial.n_rollouts" in result.output


@pytest.mark.parametrize(("override", "named"), [
    ("generator.lr=inf", "generator.lr"),
    ("adversarial.lr=0", "adversarial.lr"),
    ("discriminator.lr=.nan", "discriminator.lr"),
    ("adversarial.rollout_rate=1.5", "adversarial.rollout_rate"),
    ("data.n_train=1000", "n_negative"),
])
def test_unusable_settings_are_refused_before_a_run_directory(tmp_path, override, named):
    result = CliRunner().invoke(
        app, ["run", "configs/seqgan/fast.yaml", override, "--runs", str(tmp_path)]
    )
    assert result.exit_code == 2, result.output
    assert named in result.output and len(result.output.strip().splitlines()) == 1
    assert not tmp_path.exists() or not list(tmp_path.iterdir())
