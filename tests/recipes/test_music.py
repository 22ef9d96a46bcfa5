"""Recipe `music`: pre-train + tune phases, files written, exact resume in either phase."""

import json
from itertools import pairwise

import numpy as np
import pytest

from gmrl.core.config import dump_config, load_config
from gmrl.core.errors import ConfigError
from gmrl.core.rundir import RunDir
from gmrl.music.render import read_token_file, write_token_file
from gmrl.recipes import load_recipe, music

from . import assert_exact_resume, run_to_end


def _corpus(path, n: int = 240) -> str:
    """A token-file corpus of in-key notes held for 4 or 8 steps (many excessive repeats)."""
    rng = np.random.default_rng(0)
    events = np.ones((n, 32), dtype=np.int64)
    for row in range(n):
        hold = 8 if row % 2 else 4
        pitches = np.array([60, 62, 64, 65, 67, 69, 71, 72]) - 46
        events[row, ::hold] = rng.choice(pitches, 32 // hold)
    return str(write_token_file(events, path / "corpus.txt"))


def _config(tmp_path, *overrides: str) -> music.Config:
    base = tmp_path / "base.yaml"
    base.write_text(
        "recipe: music\n"
        f"corpus: {{source: {_corpus(tmp_path)}}}\n"
        "note_rnn: {epochs: 2, hidden: 16, embed_dim: 8, batch_size: 64}\n"
        "tuning: {algo: q, steps: 4, compositions: 8, minibatch: 4, updates_per_rollout: 1}\n"
        "eval: {compositions: 64, every: 2, batch: 16, render: 0}\n"
        "checkpoint_every: 2\n"
    )
    return load_config(base, list(overrides), lambda name: load_recipe(name).Config)


def test_run_writes_policy_compositions_and_the_three_tables(tmp_path) -> None:
    config = _config(tmp_path)
    run = RunDir.create(tmp_path / "runs", "music", dump_config(config), quiet=True)
    summary = run_to_end(music, config, run)
    for name in ("note_rnn.safetensors", "policy.safetensors", "compositions.txt",
                 "plots/learning_curves.png", "summary.json", "metrics.csv"):
        assert (run.path / name).is_file(), name
    assert read_token_file(run.path / "compositions.txt").shape == (64, 32)
    for table in ("note_rnn", "tuned", "corpus"):
        for row in ("repeated_notes_pct", "tonic_start_pct", "log_p", "unique_fraction",
                    "log_p_per_event", "log_p_median", "log_p_p10", "max_copies",
                    "memorisation_8", "memorisation_16", "copies_corpus", "repeated_bar_pct",
                    "repeats_bars"):
            assert f"{table}/{row}" in summary, (table, row)
    assert summary["corpus/copies_corpus"] == 0.0  # held-out windows are the yardstick
    assert summary["note_rnn/held_out_nll"] < np.log(38)
    assert summary["corpus/attractor"] == 0.0  # real melodies are their own reference
    assert summary["tuned/attractor"] in (0.0, 1.0) and "note_rnn/attractor" in summary
    header = (run.path / "metrics.csv").read_text().splitlines()[0].split(",")
    for column in ("pretrain/held_out_nll", "tune/kl", "tune/entropy", "tune/unique",
                   "eval/repeated_notes_pct"):
        assert column in header
    json.loads((run.path / "summary.json").read_text())


def test_a_saved_note_rnn_is_reused_without_pretraining(tmp_path) -> None:
    first = _config(tmp_path, "tuning.steps=0")
    run = RunDir.create(tmp_path / "runs", "music", dump_config(first), quiet=True)
    run_to_end(music, first, run)
    checkpoint = run.path / "note_rnn.safetensors"
    second = _config(tmp_path, f"note_rnn.checkpoint={checkpoint}", "tuning.algo=g")
    music.prepare(second)
    again = RunDir.create(tmp_path / "runs", "music", dump_config(second), quiet=True)
    summary = run_to_end(music, second, again)
    assert "pretrain/nll" not in (again.path / "metrics.csv").read_text().splitlines()[0]
    assert summary["note_rnn/log_p"] == pytest.approx(
        json.loads((run.path / "summary.json").read_text())["note_rnn/log_p"]
    )


@pytest.mark.parametrize(
    ("overrides", "stop_at", "crash"),
    [
        ((), 1, False),  # Ctrl-C in pre-training
        (("note_rnn.epochs=12", "tuning.steps=2"), 11, True),  # crash after epoch 10's checkpoint
        ((), 4, False),  # Ctrl-C in tuning (off-policy Q)
        (("tuning.algo=psi",), 5, True),  # crash after a tuning checkpoint
        (("tuning={algo: rloo, steps: 4, tuner: {batch_size: 8, self_bleu: false}}",), 3, False),
        (("tuning={algo: rloo, steps: 4, guide_rules: true, kl_budget: corpus, "
          "tuner: {batch_size: 8, self_bleu: false}}",), 3, True),  # beta and guide restored
    ],
)
def test_exact_resume(tmp_path, overrides, stop_at: int, crash: bool) -> None:
    config = _config(tmp_path, *overrides)
    assert assert_exact_resume(music, config, tmp_path, stop_at, crash=crash) >= stop_at


def test_bad_settings_are_refused_up_front(tmp_path) -> None:
    with pytest.raises(ConfigError):
        _config(tmp_path, "tuning.algo=dqn")
    with pytest.raises(ConfigError):
        _config(tmp_path, "tuning={algo: ppo, tuner: {estimator: rloo}}")
    with pytest.raises(ConfigError):
        _config(tmp_path, "tuning.c=0")
    config = _config(tmp_path, f"note_rnn.checkpoint={tmp_path / 'missing.safetensors'}")
    with pytest.raises(Exception) as info:
        music.prepare(config)
    assert "\n" not in str(info.value)


def test_exact_rules_and_the_collapse_guard_run_through_the_recipe(tmp_path) -> None:
    """`exact_rules` logs the rules' expected reward; a collapse stops tuning early, and the run
    still evaluates and saves the weights kept (summary flags the stop)."""
    tuning = ("tuning={algo: rloo, steps: 6, exact_rules: true, tuner: {batch_size: 32, "
              "self_bleu: false, min_unique: %s}}")
    config = _config(tmp_path, tuning % 0.01)
    run = RunDir.create(tmp_path / "runs", "music", dump_config(config), quiet=True)
    summary = run_to_end(music, config, run)
    assert "tune/every_action_reward" in (run.path / "metrics.csv").read_text().splitlines()[0]
    assert summary["tune/stopped_early"] == 0.0
    # a corpus of one melody (middle C held): the Note-RNN samples copies of it
    one = np.ones((240, 32), dtype=np.int64)
    one[:, 0] = 14
    few = write_token_file(one, tmp_path / "one.txt")
    strict = _config(tmp_path, tuning % 0.9, f"corpus.source={few}", "note_rnn.epochs=60")
    run = RunDir.create(tmp_path / "runs", "music", dump_config(strict), quiet=True)
    summary = run_to_end(music, strict, run)
    assert summary["tune/stopped_early"] == 1.0 and summary["tune/steps_kept"] < 6
    assert (run.path / "policy.safetensors").is_file()
    assert read_token_file(run.path / "compositions.txt").shape == (64, 32)


def test_guide_rules_put_the_rules_into_the_tuned_policy_and_its_saved_file(tmp_path) -> None:
    """The corpus holds notes for 8 steps, so the Note-RNN repeats excessively; with the rules
    in its logits the tuned policy plays no excessive repeat in training or evaluation, and
    `policy.safetensors` carries the guide for `gmrl music generate`."""
    from gmrl.music.policy import load_policy

    config = _config(tmp_path, "tuning={algo: rloo, steps: 3, guide_rules: true, tuner: "
                     "{batch_size: 16, beta: 0.5, self_bleu: false}}", "note_rnn.epochs=20")
    run = RunDir.create(tmp_path / "runs", "music", dump_config(config), quiet=True)
    summary = run_to_end(music, config, run)
    assert summary["note_rnn/repeated_notes_pct"] > 5.0
    assert summary["tuned/repeated_notes_pct"] == 0.0
    guide = load_policy(run.path / "policy.safetensors").guide
    assert guide is not None and guide.scale == pytest.approx(1 / (10.0 * 0.5))
    assert guide.rules == ("key", "repetition")
    motif = _config(tmp_path, "tuning={algo: rloo, steps: 1, guide_rules: true, guide_terms: "
                    "[key, motif, repeated_motif], tuner: {batch_size: 8, self_bleu: false}}")
    run = RunDir.create(tmp_path / "runs", "music", dump_config(motif), quiet=True)
    run_to_end(music, motif, run)
    saved = load_policy(run.path / "policy.safetensors").guide
    assert saved is not None and saved.rules == ("key", "motif", "repeated_motif")
    with pytest.raises(ConfigError):
        _config(tmp_path, "tuning={algo: rloo, guide_rules: true, guide_terms: [tonic]}")
    with pytest.raises(ConfigError, match="beta > 0"):
        _config(tmp_path, "tuning={algo: rloo, guide_rules: true, tuner: {beta: 0}}")


def test_kl_budget_raises_beta_and_the_guide_follows_it(tmp_path) -> None:
    """Over budget (1 nat, while the guide alone moves the policy further: the corpus repeats
    notes the rules punish), beta rises every step and the saved guide is r_MT / (c beta) at
    the last beta; `corpus` measures the budget on the held-out windows and records it."""
    from gmrl.music.policy import load_policy

    tuning = ("tuning={algo: rloo, steps: 4, guide_rules: true, kl_budget: %s, tuner: "
              "{batch_size: 16, beta: 0.5, kl_horizon: 64, self_bleu: false}}")
    config = _config(tmp_path, tuning % 1.0, "note_rnn.epochs=20")
    run = RunDir.create(tmp_path / "runs", "music", dump_config(config), quiet=True)
    summary = run_to_end(music, config, run)
    assert summary["budget/nats"] == 1.0
    rows = (run.path / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    betas = [float(r.split(",")[header.index("tune/beta")]) for r in rows[1:]
             if r.split(",")[header.index("tune/beta")]]
    used = [float(r.split(",")[header.index("tune/budget_used")]) for r in rows[1:]
            if r.split(",")[header.index("tune/budget_used")]]
    assert betas[0] == 0.5 and all(b > a for a, b in pairwise(betas))
    assert all(u > 1.0 for u in used)
    guide = load_policy(run.path / "policy.safetensors").guide
    assert guide is not None and guide.to_dict()["scale"] < 1 / (10 * betas[-1])
    measured = _config(tmp_path, tuning % "corpus")
    run = RunDir.create(tmp_path / "runs", "music", dump_config(measured), quiet=True)
    summary = run_to_end(music, measured, run)
    assert summary["budget/held_out"] > 0 and summary["budget/nats"] >= 1.0
    assert summary["budget/used"] >= min(10, summary["budget/held_out"])
    with pytest.raises(ConfigError):
        _config(tmp_path, "tuning={algo: rloo, kl_budget: 5, tuner: {target_kl: 5}}")
