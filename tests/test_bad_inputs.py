"""The bad-input corpus (issue 9): every bad config, override, folder or file a user can hand
`gmrl run`, each refused with its exit code, a single line on stderr, no traceback, and nothing
lost: no run directory for a refused new run, an existing run directory byte-for-byte unchanged
for a refused resume, the last good checkpoint intact after an OS error mid-run.

Resume cases work on copies of one tiny finished `generative` run (a flow on 64 points, two
epochs); new-run cases use the shipped configs from the repository root.
"""

import errno
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner, Result

from gmrl.cli import app
from gmrl.core import checkpoint as checkpoint_module
from gmrl.core.rundir import RunDir

REPO = Path(__file__).resolve().parents[1]
TINY = """recipe: generative
seed: 0
dataset: two_moons
n_train: 64
n_test: 64
eval_samples: 64
batch_size: 64
epochs: 2
eval_every: 1
model: {name: flow, params: {hidden: 16}}
"""

runner = CliRunner()


@dataclass(frozen=True)
class Case:
    """One bad input: `args` after `gmrl` ({run}: a copy of the finished run, {tmp}: a scratch
    folder, {tiny}: the tiny config), the expected exit code and a phrase of the error line."""

    id: str
    args: tuple[str, ...]
    expected: str
    code: int = 2
    setup: Callable[[Path, Path], None] | None = None  # (run copy, scratch folder)


def _write(path: str, text: str) -> Callable[[Path, Path], None]:
    def setup(run: Path, tmp: Path) -> None:
        target = Path(path.format(run=run, tmp=tmp))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    return setup


def _foreign_checkpoint(run: Path, tmp: Path) -> None:
    """Another recipe's checkpoint as the run's latest (e.g. copied over from an rl run)."""
    other = RunDir(run, quiet=True, recipe="rl")
    other.save_checkpoint(99, {"agent": {"w": torch.ones(2)}})
    other.close()


def _truncate_latest_checkpoint(run: Path, tmp: Path) -> None:
    (latest,) = sorted(run.glob("checkpoints/state-*.safetensors"))[-1:]
    latest.write_bytes(latest.read_bytes()[:100])


def _edit(name: str, edit: Callable[[str], str]) -> Callable[[Path, Path], None]:
    """Rewrite the run copy's file `name` through `edit` (a user's hand edit or damage)."""
    def setup(run: Path, tmp: Path) -> None:
        file = run / name
        file.write_text(edit(file.read_text()))

    return setup


def _delete(name: str) -> Callable[[Path, Path], None]:
    def setup(run: Path, tmp: Path) -> None:
        (run / name).unlink()

    return setup


NEW_RUN_CASES = [
    # world model (quickstart): cross-field rules checked before a run directory exists
    Case("worldmodel-total-steps-below-initial", ("run", "total_steps=100"), "initial_steps"),
    Case("worldmodel-eval-every-below-initial", ("run", "eval_every=50"), "eval_every"),
    Case("worldmodel-lr-inf", ("run", "model.lr=inf"), "model.lr"),
    # world model v2: the same before a run directory exists
    Case("v2-latent-not-simnorm-groups", ("run", "configs/worldmodel/v2.yaml",
                                          "agent.dynamics=latent", "agent.latent_dim=20"),
         "simnorm_dim"),
    Case("v2-td-steps-too-many", ("run", "configs/worldmodel/v2.yaml", "agent.td_steps=5000"),
         "td_steps"),
    Case("v2-lr-inf", ("run", "configs/worldmodel/v2.yaml", "agent.lr=inf"), "agent.lr"),
    Case("v2-total-steps-huge", ("run", "configs/worldmodel/v2.yaml", "total_steps=1e18"),
         "total_steps"),
    # every number in a config has a range (issue 24): a count no run could finish, any recipe
    Case("worldmodel-total-steps-1e18", ("run", "total_steps=1000000000000000000"),
         "within -1_000_000_000 ... 1_000_000_000"),
    Case("rl-total-steps-1e18", ("run", "configs/rl/cartpole.yaml", f"total_steps={10**18}"),
         "key 'total_steps'"),
    Case("seqgan-rounds-1e10", ("run", "configs/seqgan/quick.yaml", f"adversarial.rounds={10**10}"),
         "key 'adversarial.rounds'"),
    Case("music-weight-1e12", ("run", "configs/music/tuner.yaml", "reward.weights.key=1e12"),
         "key 'reward.weights.key'"),
    Case("pixels-iterations-1e12", ("run", "configs/worldmodel/cartpole_pixels.yaml",
                                    f"iterations={10**12}"), "key 'iterations'"),
    Case("generative-lr-inf", ("run", "{tiny}", "model.params.lr=inf"), "lr"),
    Case("generative-lr-nan", ("run", "{tiny}", "model.params.lr=nan"), "lr"),
    Case("atari-without-ale", ("run", "configs/rl/cartpole.yaml", "env=ALE/Pong-v5"), "ale-py"),
    Case("config-is-a-directory", ("run", "configs"), "is a directory"),
    Case("config-not-found", ("run", "configs/nope.yaml"), "not found"),
    Case("config-malformed-yaml", ("run", "{tmp}/bad.yaml"), "malformed YAML",
         setup=_write("{tmp}/bad.yaml", "recipe: generative\nepochs: [1\n")),
    Case("config-not-a-mapping", ("run", "{tmp}/list.yaml"), "must be a mapping",
         setup=_write("{tmp}/list.yaml", "- 1\n- 2\n")),
    Case("misspelt-key", ("run", "{tiny}", "epoch=3"), "did you mean 'epochs'"),
    Case("bad-value", ("run", "{tiny}", "epochs=lots"), "key 'epochs'"),
    Case("override-without-equals", ("run", "{tiny}", "epochs"), "key=value"),
    Case("unknown-recipe", ("run", "{tiny}", "recipe=generatve"), "did you mean 'generative'"),
    Case("unknown-model", ("run", "{tiny}", "model.name=nosuch"), "unknown generative model"),
    Case("model-params-typo", ("run", "{tiny}", "model.params.hiden=8"), "model 'flow'"),
    Case("runs-is-a-file", ("run", "{tiny}", "--runs", "{tmp}/file"), "is a file, not a folder",
         setup=_write("{tmp}/file", "not a folder")),
    Case("runs-below-a-file", ("run", "{tiny}", "--runs", "{tmp}/file/runs"),
         "a path component is a file", setup=_write("{tmp}/file", "not a folder")),
    # seeds: 0 ... 2**32 - 1 (issue 24), the range named in the one line
    Case("seed-2-to-the-70", ("run", "{tiny}", f"seed={2**70}"), "seed must be an integer "
         "within 0 ... 4294967295"),
    Case("seed-negative", ("run", "{tiny}", "seed=-5"), "seed must be an integer within 0"),
    Case("seed-just-beyond-32-bits", ("run", "{tiny}", f"seed={2**32}"), "key 'seed'"),
    Case("seed-an-expression", ("run", "{tiny}", "seed=2**70"), "within 0 ... 4294967295"),
    Case("seed-a-bool", ("run", "{tiny}", "seed=true"), "key 'seed'"),
    Case("seed-of-the-synthetic-generator", ("run", "configs/synthetic/pendulum.yaml",
                                             "synthetic.seed=-1"), "key 'synthetic.seed'"),
    Case("resume-not-a-run-directory", ("run", "--resume", "{tmp}"), "not a gmrl run directory"),
    Case("resume-with-a-config", ("run", "{tiny}", "--resume", "{run}"), "drop the CONFIG"),
]

RESUME_CASES = [
    Case("resume-model-name-gan", ("run", "--resume", "{run}", "model.name=gan"), "does not fit"),
    Case("resume-layer-size", ("run", "--resume", "{run}", "model.params.hidden=32"),
         "does not fit"),
    Case("resume-recipe-change", ("run", "--resume", "{run}", "recipe=rl"),
         "cannot change the recipe"),
    Case("resume-bad-override", ("run", "--resume", "{run}", "epochs=lots"), "key 'epochs'"),
    Case("resume-misspelt-override", ("run", "--resume", "{run}", "epoch=5"),
         "did you mean 'epochs'"),
    Case("resume-other-recipes-checkpoint", ("run", "--resume", "{run}", "epochs=3"),
         "written by recipe 'rl'", setup=_foreign_checkpoint),
    Case("resume-corrupt-latest-json", ("run", "--resume", "{run}", "epochs=3"), "is corrupt",
         setup=_write("{run}/checkpoints/latest.json", "{not json")),
    Case("resume-truncated-checkpoint", ("run", "--resume", "{run}", "epochs=3"),
         "does not match its sha256 in", setup=_truncate_latest_checkpoint),
    Case("resume-seed-out-of-range", ("run", "--resume", "{run}", "seed=-5"),
         "seed must be an integer within 0 ... 4294967295"),
    # integrity (issue 24): metrics rows lost before a resume, config.yaml edited by hand
    Case("resume-metrics-csv-deleted", ("run", "--resume", "{run}", "epochs=3"),
         "metrics.csv' is missing: resuming would lose metrics rows", setup=_delete("metrics.csv")),
    Case("resume-metrics-csv-emptied", ("run", "--resume", "{run}", "epochs=3"),
         "metrics.csv' has 0 rows up to step 2, but the checkpoint recorded 2",
         setup=_write("{run}/metrics.csv", "")),
    Case("resume-metrics-csv-last-row-dropped", ("run", "--resume", "{run}", "epochs=3"),
         "has 1 rows up to step 2, but the checkpoint recorded 2",
         setup=_edit("metrics.csv", lambda text: "".join(text.splitlines(True)[:-1]))),
    Case("resume-metrics-csv-cut-mid-row", ("run", "--resume", "{run}", "epochs=3"),
         "metrics.csv' is cut off", setup=_edit("metrics.csv", lambda text: text[:-8])),
    Case("resume-metrics-csv-cut-after-a-comma", ("run", "--resume", "{run}", "epochs=3"),
         "is cut off", setup=_edit("metrics.csv", lambda text: text[: text.rindex(",") + 1])),
    Case("resume-config-yaml-edited", ("run", "--resume", "{run}"),
         "config.yaml' was edited after the run started",
         setup=_edit("config.yaml", lambda text: text.replace("epochs: 2", "epochs: 3"))),
    Case("resume-config-yaml-edited-and-an-override", ("run", "--resume", "{run}", "epochs=3"),
         "give the change as an override instead",
         setup=_edit("config.yaml", lambda text: text.replace("batch_size: 64", "batch_size: 32"))),
    Case("resume-config-yaml-broken", ("run", "--resume", "{run}"), "malformed YAML",
         setup=_write("{run}/config.yaml", "recipe: generative\nepochs: [2\n")),
]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny generative run, finished (two checkpoints, summary.json)."""
    folder = tmp_path_factory.mktemp("finished")
    config = folder / "tiny.yaml"
    config.write_text(TINY)
    result = runner.invoke(app, ["run", str(config), "--runs", str(folder / "runs"), "-q"])
    assert result.exit_code == 0, result.output
    (run,) = (folder / "runs").iterdir()
    assert (run / "summary.json").is_file()
    return run


@pytest.fixture
def scratch(tmp_path: Path, finished_run: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A copy of the finished run, a scratch folder and the tiny config; cwd = repository root."""
    monkeypatch.chdir(REPO)
    run = tmp_path / "run-copy"
    shutil.copytree(finished_run, run)
    tiny = tmp_path / "tiny.yaml"
    tiny.write_text(TINY)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    return {"run": run, "tmp": scratch, "tiny": tiny, "runs": tmp_path / "runs"}


def _argv(case: Case, paths: dict[str, Path]) -> list[str]:
    args = [a.format(run=paths["run"], tmp=paths["tmp"], tiny=paths["tiny"]) for a in case.args]
    if "--runs" not in args:
        args += ["--runs", str(paths["runs"])]
    return [*args, "-q"]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def assert_one_error_line(result: Result, code: int, expected: str) -> str:
    """Exit `code`, exactly one non-empty line on stderr (naming `expected`), no traceback."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    shown = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}\nexception: {result.exception!r}"
    assert result.exit_code == code, shown
    assert len(lines) == 1 and lines[0].startswith("error:"), shown
    assert "Traceback" not in result.output, shown
    assert expected in lines[0], shown
    return lines[0]


@pytest.mark.parametrize("case", NEW_RUN_CASES, ids=lambda c: c.id)
def test_new_run_bad_input(case: Case, scratch: dict[str, Path]) -> None:
    if case.setup is not None:
        case.setup(scratch["run"], scratch["tmp"])
    before = _snapshot(scratch["tmp"])
    result = runner.invoke(app, _argv(case, scratch))
    assert_one_error_line(result, case.code, case.expected)
    assert not scratch["runs"].exists(), "a refused run must not create a run directory"
    assert _snapshot(scratch["tmp"]) == before


@pytest.mark.parametrize("case", RESUME_CASES, ids=lambda c: c.id)
def test_resume_bad_input_leaves_the_run_unchanged(case: Case, scratch: dict[str, Path]) -> None:
    if case.setup is not None:
        case.setup(scratch["run"], scratch["tmp"])
    before = _snapshot(scratch["run"])
    result = runner.invoke(app, _argv(case, scratch))
    assert_one_error_line(result, case.code, case.expected)
    assert _snapshot(scratch["run"]) == before
    assert not scratch["runs"].exists()


def test_resume_while_another_process_holds_the_run(scratch: dict[str, Path]) -> None:
    """A second `gmrl run --resume` of a directory in use is refused and writes nothing."""
    run = scratch["run"]
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\nfrom gmrl.core.rundir import RunDir\n"
         "r = RunDir.open_existing(sys.argv[1], quiet=True)\nprint('locked', flush=True)\n"
         "time.sleep(120)\n", str(run)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        before = _snapshot(run)
        result = runner.invoke(app, ["run", "--resume", str(run), "epochs=3", "-q"])
        assert_one_error_line(result, 2, "in use by another gmrl process")
        assert _snapshot(run) == before
    finally:
        holder.kill()
        holder.wait()
    again = runner.invoke(app, ["run", "--resume", str(run), "epochs=3", "-q"])  # lock released
    assert again.exit_code == 0, again.output


def test_read_only_runs_folder(scratch: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """A runs folder the user cannot write into: one line, exit 2 (simulated where the tests
    run as root, which writes into read-only folders anyway)."""
    root = scratch["runs"]
    root.mkdir()
    root.chmod(0o555)
    try:
        if os.access(root, os.W_OK):
            real_mkdir = Path.mkdir

            def read_only(self: Path, *args: object, **kwargs: object) -> None:
                if self.parent == root:
                    raise OSError(errno.EROFS, "Read-only file system", str(self))
                real_mkdir(self, *args, **kwargs)  # type: ignore[arg-type]

            monkeypatch.setattr(Path, "mkdir", read_only)
        result = runner.invoke(app, ["run", str(scratch["tiny"]), "--runs", str(root), "-q"])
        line = assert_one_error_line(result, 2, "creating the run directory")
        assert "read-only" in line or "permission denied" in line
        assert list(root.iterdir()) == []
    finally:
        root.chmod(0o755)


def test_disk_full_mid_run_keeps_the_last_checkpoint(
    scratch: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC on the second checkpoint: one line, exit 1, checkpoint 1 intact, no temp files,
    and once space is back the run resumes to the same summary as an uninterrupted run."""
    real_replace = checkpoint_module.os.replace
    writes = {"checkpoints": 0}

    def replace(src: str, dst: str) -> None:
        if str(dst).endswith(".safetensors"):
            writes["checkpoints"] += 1
            if writes["checkpoints"] == 2:
                raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(checkpoint_module.os, "replace", replace)
    result = runner.invoke(app, ["run", str(scratch["tiny"]), "--runs", str(scratch["runs"]),
                                 "-q"])
    line = assert_one_error_line(result, 1, "disk is full")
    assert "--resume" in line
    monkeypatch.setattr(checkpoint_module.os, "replace", real_replace)
    (run,) = scratch["runs"].iterdir()
    assert not list(run.rglob(".*.tmp"))
    assert [p.name for p in run.glob("checkpoints/state-*")] == ["state-00000001.safetensors"]
    resumed = runner.invoke(app, ["run", "--resume", str(run), "-q"])
    assert resumed.exit_code == 0, resumed.output
    straight = scratch["run"]  # the same tiny config, never interrupted
    assert (run / "summary.json").read_text() == (straight / "summary.json").read_text()
    assert (run / "metrics.csv").read_text() == (straight / "metrics.csv").read_text()


def test_resume_override_is_recorded(scratch: dict[str, Path]) -> None:
    """`--resume DIR epochs=3` trains to epoch 3 and config.yaml says so; run.json lists the
    override and holds the new config's sha256, so a second resume is not taken for an edit."""
    import hashlib
    import json

    run = scratch["run"]
    result = runner.invoke(app, ["run", "--resume", str(run), "epochs=3", "-q"])
    assert result.exit_code == 0, result.output
    assert "epochs: 3" in (run / "config.yaml").read_text()
    steps = [line.split(",")[0] for line in (run / "metrics.csv").read_text().split()[1:]]
    assert steps[-1] == "3"
    record = json.loads((run / "run.json").read_text())
    assert record["resumes"] == [{"overrides": ["epochs=3"]}]
    assert record["config_sha256"] == hashlib.sha256((run / "config.yaml").read_bytes()).hexdigest()
    again = runner.invoke(app, ["run", "--resume", str(run), "epochs=4", "-q"])
    assert again.exit_code == 0, again.output
    assert (run / "metrics.csv").read_text().splitlines()[-1].startswith("4,")


def test_resume_accepts_a_config_yaml_with_only_comments_added(scratch: dict[str, Path]) -> None:
    """An edit that leaves the resolved config as it was (a comment) is not a change."""
    run = scratch["run"]
    config = run / "config.yaml"
    config.write_text("# my notes on this run\n" + config.read_text())
    result = runner.invoke(app, ["run", "--resume", str(run), "epochs=3", "-q"])
    assert result.exit_code == 0, result.output


def test_resume_of_a_run_without_run_json_is_not_checked(scratch: dict[str, Path]) -> None:
    """Run directories made before run.json existed still resume (nothing to compare with)."""
    run = scratch["run"]
    (run / "run.json").unlink()
    result = runner.invoke(app, ["run", "--resume", str(run), "epochs=3", "-q"])
    assert result.exit_code == 0, result.output
