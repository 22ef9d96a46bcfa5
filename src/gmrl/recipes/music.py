"""Recipe `music`: a Note-RNN trained on real melodies, then tuned by RL with a music-theory reward.

RL Tuner (Jaques et al. 2017) end to end, plus gmrl's KL-regularised on-policy tuner:

```
gmrl run configs/music/pretrain.yaml                 # the Note-RNN alone (tuning.steps: 0)
gmrl run configs/music/rltuner_q.yaml note_rnn.checkpoint=runs/music-.../note_rnn.safetensors
gmrl run configs/music/tuner.yaml                    # gmrl's best: RLOO with a KL leash
gmrl music generate runs/music-... -n 16 -o melodies/
```

Two phases on one `TrainingLoop` (run steps 1..E are MLE epochs, E+1..E+S tuning steps), with
exact resume in either: (1) maximum-likelihood training of the Note-RNN on 32-step windows of
the corpus (`pretrain/nll`, `pretrain/held_out_nll` per event), skipped when
`note_rnn.checkpoint` names a saved Note-RNN; (2) tuning with `tuning.algo` = q | psi | g (RL
Tuner's off-policy family, `gmrl.music.tuning`) or reinforce | rloo | ppo (`RewardTuner` with the
music reward per step); every step logs the music reward, the KL to the Note-RNN, the policy's
entropy and the rollout's unique fraction, and every `eval.every` steps a few Table 1 rows.

Writes `note_rnn.safetensors` (reusable), `policy.safetensors` (for `gmrl music generate`),
`compositions.txt` (the `eval.compositions` evaluation compositions, one per line), `samples/`
(MIDI and WAV of the first `eval.render` compositions, and their piano rolls), plots of the
learning curves, and a summary with RL Tuner's Table 1 rows, log p under the Note-RNN (per
composition and per event, median and 10th percentile), diversity and copying (duplicates,
memorisation against the training windows, repeated bars: `gmrl.music.report`), for the
Note-RNN's samples, the tuned policy's and held-out corpus windows. A run the collapse guard
stopped says so: `tune/stopped_early` 1 and `tune/steps_kept` (`CollapseDetected`).
"""

import copy
import math
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from gmrl.core.config import PositiveFloat, Probability, RecipeConfig, StrictModel
from gmrl.core.device import resolve_device, torch_threads
from gmrl.core.loop import TrainingLoop
from gmrl.core.rundir import RunDir
from gmrl.core.seeding import seed_everything, torch_generator
from gmrl.generative.autoregressive import AutoregressiveModel
from gmrl.music.budget import Budget, BudgetController, log_p_budget
from gmrl.music.copying import NgramIndex
from gmrl.music.guide import RuleGuide
from gmrl.music.likelihood import composition_log_probs
from gmrl.music.note_rnn import (
    NoteRNNConfig,
    build_note_rnn,
    fit_epoch,
    load_note_rnn,
    per_event_nll,
    pretrain_epochs,
    save_note_rnn,
)
from gmrl.music.policy import MelodyPolicy, save_policy
from gmrl.music.render import write_outputs, write_token_file
from gmrl.music.reward import MusicRewardConfig, MusicTheoryReward
from gmrl.music.tuning import OffPolicyTuner, RLTunerConfig
from gmrl.music.windows import train_test_windows
from gmrl.sequence.tuner import CollapseDetected, RewardTuner, TunerConfig

SUMMARY = "Note-RNN on real melodies (MLE), tuned by RL Tuner's Q/Psi/G or gmrl's KL-tuner"

STEPS = 32
PRETRAIN_CHECKPOINT_EVERY = 10  # epochs (a crash loses at most this many)
BUDGET_SAMPLES = 1000  # Note-RNN samples the budget's reference log p is measured on


class CorpusSection(StrictModel):
    """Where the melodies come from and how they are cut into 32-step windows."""

    source: str = Field(
        "bach",
        description="bach, essen, bach+essen, a folder of MIDI/MusicXML files, or a token file "
        "(.txt, one 32-event composition per line)",
    )
    transpose: bool = Field(True, description="transpose to C major / A minor")
    cache_dir: str | None = Field(None, description="where parsed corpora are cached (NPZ)")
    max_files: int | None = Field(None, ge=1, description="parse at most this many files")
    test_fraction: Probability = Field(0.1, description="melodies held out for NLL and metrics")
    stride: int = Field(16, ge=1, description="steps between window starts (one bar)")


class OffPolicyTuning(RLTunerConfig):
    """RL Tuner's Q-, Psi- or G-learning (`gmrl.music.tuning`)."""

    steps: int = Field(300, ge=0, description="rollouts (each followed by TD updates)")


class OnPolicyTuning(StrictModel):
    """gmrl's KL-regularised tuner (`RewardTuner`) with the music reward given per step."""

    algo: Literal["reinforce", "rloo", "ppo"] = "rloo"
    steps: int = Field(300, ge=0, description="tuner steps (one batch each)")
    c: PositiveFloat = Field(10.0, description="the music reward per step is r_MT / c")
    exact_rules: bool = Field(
        False,
        description="follow the key and repetition rules' exact expected gradient: score every "
        "event at every visited step (MusicTheoryReward.every_action) instead of waiting for "
        "the tuner to sample the rare repeats they punish",
    )
    guide_rules: bool = Field(
        False,
        description="fold the rules of guide_terms into the policy's logits (RuleGuide, "
        "offsets r_MT / (c beta), the immediate part of the KL-regularised optimum): the tuned "
        "policy then applies them when it samples, in training and generation alike",
    )
    guide_terms: list[Literal["key", "repetition", "motif", "repeated_motif"]] = Field(
        ["key", "repetition"], min_length=1,
        description="the rules guide_rules folds into the logits (each scored for all 38 "
        "events at the next step)",
    )
    kl_budget: Literal["corpus"] | PositiveFloat | None = Field(
        None,
        description="hold beta to a budget (gmrl.music.budget): after each step beta rises by "
        "up to 20 % x batch_size / tuner.kl_horizon while the larger of the KL to the Note-RNN "
        "and the log-p drop below its samples (per composition) is over it, and falls back, "
        "never below tuner.beta, under it; 'corpus' measures it before tuning as the log-p gap "
        "of held-out windows that meet the Table 1 rows, a number gives it in nats",
    )
    tuner: TunerConfig = Field(default_factory=TunerConfig)

    @model_validator(mode="after")
    def _consistent(self) -> "OnPolicyTuning":
        if self.kl_budget is not None and self.tuner.target_kl is not None:
            raise ValueError("kl_budget and tuner.target_kl both move beta: set only one")
        if self.guide_rules and self.tuner.beta <= 0:
            raise ValueError("guide_rules scales the rules by 1 / (c beta): set tuner.beta > 0")
        if "estimator" in self.tuner.model_fields_set and self.tuner.estimator != self.algo:
            raise ValueError(
                f"tuner.estimator '{self.tuner.estimator}' contradicts algo '{self.algo}': "
                "set only tuning.algo"
            )
        return self


Tuning = Annotated[OffPolicyTuning | OnPolicyTuning, Field(discriminator="algo")]


class EvalSection(StrictModel):
    """Evaluation: periodic (small batch) and final (RL Tuner's 10,000 compositions)."""

    compositions: int = Field(10_000, ge=2, description="final evaluation compositions")
    every: int = Field(50, ge=1, description="tuning steps between periodic evaluations")
    batch: int = Field(512, ge=2, description="compositions of a periodic evaluation")
    render: int = Field(4, ge=0, description="compositions written as MIDI/WAV/PNG samples")
    compare: bool = Field(
        True, description="also score the Note-RNN's own samples and the held-out windows"
    )


class Config(RecipeConfig):
    """The music recipe's config; `corpus` may be given as a bare source (`corpus=essen`,
    `corpus=bach`, `corpus=/path/to/folder`), which stands for `{source: ...}` with the other
    corpus settings at their defaults."""

    recipe: str = "music"
    corpus: CorpusSection = Field(default_factory=CorpusSection)
    note_rnn: NoteRNNConfig = Field(default_factory=NoteRNNConfig)
    reward: MusicRewardConfig = Field(default_factory=MusicRewardConfig)
    tuning: Tuning = Field(default_factory=OffPolicyTuning)
    eval: EvalSection = Field(default_factory=EvalSection)
    checkpoint_every: int = Field(50, ge=1, description="tuning steps between checkpoints")
    cpu_threads: int = Field(1, ge=0, description="torch CPU threads (0 = torch default)")

    @model_validator(mode="before")
    @classmethod
    def _bare_corpus(cls, data: Any) -> Any:
        """`corpus: essen` (or a folder) is `corpus: {source: essen}`."""
        if isinstance(data, dict) and isinstance(data.get("corpus"), str):
            return {**data, "corpus": {"source": data["corpus"]}}
        return data


# ----------------------------------------------------------------------------- data
def load_windows(config: Config, quiet: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Train and held-out `(N, 32)` windows (`gmrl.music.windows`): corpora are split by
    melody, token files by row. Unless `quiet`, parsing a corpus shows its progress and ends with
    one line of statistics."""
    corpus = config.corpus
    return train_test_windows(
        corpus.source, config.seed, transpose=corpus.transpose, cache_dir=corpus.cache_dir,
        max_files=corpus.max_files, test_fraction=corpus.test_fraction, stride=corpus.stride,
        quiet=quiet,
    )


def prepare(config: Config) -> None:
    """Refuse a missing Note-RNN checkpoint, token file or melody folder (or a folder without
    readable melodies) before the run directory exists; a folder is parsed here once and
    cached, so the run itself reads the cache."""
    path = config.note_rnn.checkpoint
    if path is not None:
        load_note_rnn(path)
    from gmrl.music.corpus import SOURCES

    if config.corpus.source not in SOURCES:  # a token file or a user's folder
        load_windows(config)


# ----------------------------------------------------------------------------- evaluation
def composition_report(events: torch.Tensor, note_rnn: AutoregressiveModel,
                       reference: torch.Tensor | None = None,
                       index: NgramIndex | None = None) -> dict[str, float]:
    """Every figure of a music table (`gmrl.music.report`): Table 1 rows, pitch statistics,
    diversity, duplicates, repeated bars and log p under the Note-RNN; with `reference`
    (held-out corpus windows) the attractor and repeated-bar checks; with `index` (the training
    windows' n-grams) memorisation too."""
    from gmrl.music.report import composition_report as report

    return report(events, note_rnn, reference, index)


def _plot(rows: list[dict[str, Any]], path: Path) -> None:
    from gmrl.core.plots import plt, save_figure

    def series(key: str) -> tuple[list[int], list[float]]:
        kept = [r for r in rows if r.get(key) not in (None, "")]
        return [int(r["step"]) for r in kept], [float(r[key]) for r in kept]

    panels = [
        ("pretrain/held_out_nll", "held-out NLL / event"), ("tune/music_reward", "music reward"),
        ("tune/kl", "KL to Note-RNN"), ("tune/unique", "unique fraction"),
    ]
    fig, axes = plt.subplots(len(panels), 1, figsize=(6, 8), sharex=False)
    for axis, (key, label) in zip(axes, panels, strict=True):
        x, y = series(key)
        axis.plot(x, y)
        axis.set_ylabel(label)
    axes[-1].set_xlabel("run step (pre-training epochs, then tuning steps)")
    fig.tight_layout()
    save_figure(fig, path, dpi=100)


# ----------------------------------------------------------------------------- run
class _Tuning:
    """The tuning phase behind one interface: step, state, policy (with `tuning.kl_budget`, the
    budget is measured on the held-out windows here, before the first step)."""

    def __init__(self, config: Config, note_rnn: AutoregressiveModel,
                 held_out: np.ndarray) -> None:
        reward = MusicTheoryReward(config.reward)
        tuning = config.tuning
        generator = torch_generator(config.seed, "tuning")
        self.name = tuning.algo
        self.off: OffPolicyTuner | None = None
        self.on: RewardTuner | None = None
        self.guide: RuleGuide | None = None
        self.budget: Budget | None = None
        self.controller: BudgetController | None = None
        if isinstance(tuning, OffPolicyTuning):
            rl_config = RLTunerConfig(**tuning.model_dump(exclude={"steps"}))
            self.off = OffPolicyTuner(note_rnn, reward, rl_config, generator=generator)
            self.c = rl_config.c
        else:
            c = self.c = tuning.c
            tuner_config = tuning.tuner.model_copy(update={"estimator": tuning.algo})
            policy = copy.deepcopy(note_rnn).requires_grad_(True)
            every = (lambda x: reward.every_action(x) / c) if tuning.exact_rules else None
            self.guide = (
                RuleGuide(config.reward, 1.0 / (c * tuner_config.beta), tuple(tuning.guide_terms))
                if tuning.guide_rules else None
            )
            self.on = RewardTuner(
                policy, lambda x: torch.zeros(len(x)), tuner_config,
                step_reward_fn=lambda x: reward(x) / c, every_action_reward_fn=every,
                guide=self.guide, reference=note_rnn, generator=generator,
            )
            if tuning.kl_budget is not None:
                self._hold_to_budget(config, tuning.kl_budget, note_rnn, held_out)

    def _hold_to_budget(self, config: Config, kl_budget: float | str,
                        note_rnn: AutoregressiveModel, held_out: np.ndarray) -> None:
        """Measure the budget (own samples drawn from their own seeded stream, so a resumed run
        measures the same) and make the controller that holds beta to it."""
        assert isinstance(config.tuning, OnPolicyTuning)
        draws = torch_generator(config.seed, "budget_samples")
        with torch.no_grad():
            own = MelodyPolicy(note_rnn).sample(BUDGET_SAMPLES, generator=draws)
        if kl_budget == "corpus":
            self.budget = log_p_budget(note_rnn, held_out, own,
                                       bar_length=config.reward.bar_length)
        else:
            with torch.no_grad():
                own_log_p = float(composition_log_probs(note_rnn, own).mean())
            self.budget = Budget(float(kl_budget), own_log_p, float("nan"), 0, 0, len(held_out))
        tuner = config.tuning.tuner
        self.start_beta = tuner.beta
        self.controller = BudgetController(tuner.beta, self.budget.nats, self.budget.own_log_p,
                                           tuner.kl_horizon)

    @property
    def tuner(self) -> OffPolicyTuner | RewardTuner:
        tuner = self.off if self.off is not None else self.on
        assert tuner is not None
        return tuner

    def step(self) -> dict[str, float]:
        metrics = self.tuner.step()
        if self.on is not None:  # the tuner's per-step reward is r_MT / c
            metrics["music_reward"] = metrics.pop("step_reward") * self.c
            metrics.pop("reward", None)  # the sequence-level reward is unused (zero)
        if self.on is not None and self.controller is not None:  # beta for the next step
            # a back-off of the collapse guard raises the floor beta never falls below again
            self.controller.controller.min_beta = max(self.start_beta, self.on.beta_floor)
            kl, ref_log_p = metrics["kl"], metrics["ref_log_p"]
            metrics["budget_used"] = self.controller.measure(kl, ref_log_p)
            beta = self.controller.update(self.on.kl_controller.beta, kl, ref_log_p,
                                          self.on.config.batch_size)
            self.on.kl_controller.beta = beta
            if self.guide is not None:  # the guide is r_MT / (c beta): it follows beta
                self.guide.scale = 1.0 / (self.c * beta)
        return metrics

    def state_dict(self) -> dict[str, Any]:
        return self.tuner.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.tuner.load_state_dict(state)
        if self.on is not None and self.controller is not None and self.guide is not None:
            self.guide.scale = 1.0 / (self.c * self.on.kl_controller.beta)  # the restored beta

    def policy(self) -> MelodyPolicy:
        if self.off is not None:
            return self.off.policy()
        assert self.on is not None
        return MelodyPolicy(self.on.policy, name=self.name, guide=self.guide)


def run(config: Config, run: RunDir) -> dict[str, float]:
    with torch_threads(config.cpu_threads):
        return _run(config, run)


def _run(config: Config, run: RunDir) -> dict[str, float]:
    seed_everything(config.seed)
    device = resolve_device(config.device)
    train_windows, test_windows = load_windows(config, quiet=run.quiet)
    if config.note_rnn.checkpoint is not None:
        note_rnn = load_note_rnn(config.note_rnn.checkpoint).to(device)
        epochs = 0
    else:
        note_rnn = build_note_rnn(config.note_rnn).to(device)
        epochs = pretrain_epochs(config.note_rnn, len(train_windows))
    steps = config.tuning.steps
    batches = torch_generator(config.seed, "note_rnn_batches")
    holder: dict[str, Any] = {}  # "tuning": the _Tuning; "stopped": a CollapseDetected

    def state() -> dict[str, Any]:
        saved = {"note_rnn": note_rnn.training_state(), "batches": batches.get_state()}
        if "tuning" in holder:
            saved["tuning"] = holder["tuning"].state_dict()
        return saved

    def restore(saved: dict[str, Any]) -> None:
        note_rnn.load_training_state(saved["note_rnn"])
        batches.set_state(saved["batches"])
        if "tuning" in saved:
            holder["tuning"] = _Tuning(config, note_rnn.eval(), test_windows)
            holder["tuning"].load_state_dict(saved["tuning"])

    loop = TrainingLoop(
        run, total=epochs + steps, description=f"music ({config.tuning.algo})", state=state,
        restore=restore, eval_every=None, checkpoint_every=None,
    )
    start = loop.resume()
    with loop:
        for epoch in range(start + 1, epochs + 1):
            nll = fit_epoch(note_rnn, train_windows, batch_size=config.note_rnn.batch_size,
                            generator=batches)
            metrics = {"pretrain/nll": nll}
            if len(test_windows):
                metrics["pretrain/held_out_nll"] = per_event_nll(note_rnn, test_windows)
            due = epoch == epochs or epoch % PRETRAIN_CHECKPOINT_EVERY == 0
            loop.end_step(epoch, metrics, info=f"nll {nll:.3f}", checkpoint=due)
        note_rnn.eval().requires_grad_(False)
        save_note_rnn(note_rnn, run.path / "note_rnn.safetensors")
        if "tuning" not in holder:
            holder["tuning"] = _Tuning(config, note_rnn, test_windows)
        tuning = holder["tuning"]
        for step in range(max(start, epochs) + 1, epochs + steps + 1):
            try:
                metrics = {f"tune/{k}": v for k, v in tuning.step().items()}
            except CollapseDetected as stop:  # early stop on the last batch that passed
                holder["stopped"] = stop
                print(f"{stop}; evaluating those weights", file=sys.stderr, flush=True)
                break
            local = step - epochs
            if local % config.eval.every == 0 or local == steps:
                draws = torch_generator(config.seed, f"periodic_eval_{local}")
                events = tuning.policy().sample(config.eval.batch, generator=draws)
                report = composition_report(events, note_rnn)
                metrics.update({f"eval/{k}": report[k] for k in _PERIODIC})
            checkpoint = local % config.checkpoint_every == 0 or local == steps
            info = f"reward {metrics['tune/music_reward']:.1f} kl {metrics['tune/kl']:.2f}"
            loop.end_step(step, metrics, info=info, checkpoint=checkpoint)
    summary = _finish(config, run, note_rnn, holder["tuning"], train_windows, test_windows)
    stopped = holder.get("stopped")
    budget = holder["tuning"].budget
    if budget is not None:
        summary.update(budget.as_metrics())
    summary["tune/stopped_early"] = float(stopped is not None)
    on = holder["tuning"].on
    if on is not None and on.config.concentration_factor is not None:
        summary["tune/backoffs"] = float(on.backoffs)  # the guard's back-offs (not stops)
    if isinstance(stopped, CollapseDetected):
        summary["tune/steps_kept"] = float(stopped.step)  # tuning steps behind the weights
    return summary


_PERIODIC = ("repeated_notes_pct", "not_in_key_pct", "tonic_start_pct", "notes_in_motif_pct",
             "unique_fraction", "log_p")


def _finish(config: Config, run: RunDir, note_rnn: AutoregressiveModel, tuning: _Tuning,
            train_windows: np.ndarray, test_windows: np.ndarray) -> dict[str, float]:
    """Final evaluation, token file, samples, plots and the summary."""
    n = config.eval.compositions
    policy = tuning.policy() if config.tuning.steps else MelodyPolicy(note_rnn, name="note_rnn")
    save_policy(policy, run.path / "policy.safetensors")
    tuned = policy.sample(n, generator=torch_generator(config.seed, "final_eval"))
    write_token_file(tuned, run.path / "compositions.txt")
    summary: dict[str, float] = {}
    tables = {"tuned": tuned}
    if config.eval.compare:
        draws = torch_generator(config.seed, "prior_eval")
        tables["note_rnn"] = MelodyPolicy(note_rnn).sample(n, generator=draws)
        if len(test_windows):
            tables["corpus"] = torch.from_numpy(test_windows)
    if len(test_windows):
        summary["note_rnn/held_out_nll"] = per_event_nll(note_rnn, test_windows)
    reference = torch.from_numpy(test_windows) if len(test_windows) else None
    index = NgramIndex(train_windows)  # memorisation: n-grams found verbatim in training
    reward = MusicTheoryReward(config.reward)
    for name, events in tables.items():
        summary.update({f"{name}/{k}": float(v) for k, v in
                        composition_report(events, note_rnn, reference, index).items()})
        # the music-theory score: mean r_MT per composition under this run's reward weights
        summary[f"{name}/music_reward"] = float(reward.total(torch.as_tensor(events)).mean())
    if "note_rnn/log_p" in summary:
        summary["log_p_gap"] = summary["tuned/log_p"] - summary["note_rnn/log_p"]
    if config.eval.render:
        write_outputs(tuned[: config.eval.render], run.path / "samples", prefix=policy.name)
    _plot(run.rows, run.plots_dir / "learning_curves.png")
    return {k: (v if math.isfinite(v) else float("nan")) for k, v in summary.items()}
