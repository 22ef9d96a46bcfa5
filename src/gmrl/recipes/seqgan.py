"""SeqGAN on the paper's oracle: MLE pre-training, discriminator pre-training, adversarial rounds.

Reproduces the synthetic-data experiment of Yu et al. (2017): the oracle LSTM (the paper's own
weights) draws 10,000 training and 10,000 held-out sequences of 20 tokens; a generator LSTM is
pre-trained by maximum likelihood, then trained as a policy against a CNN discriminator. Run
steps count MLE epochs, then discriminator pre-training rounds, then adversarial rounds (one
monotone counter: each is one training-loop step, checkpointed every `eval.every` steps of its
phase and at its end, and Ctrl-C stops after the current one). Logged per MLE epoch and
adversarial round (every `eval.every`):

- `eval/nll_oracle`: the oracle's per-token NLL of generator samples (the paper's metric);
- `eval/nll_test`: the generator's per-token NLL of the held-out oracle sequences.

Baselines measured in the same run: the random (untrained) generator, the MLE generator (also at
lower sampling temperatures: the quality-diversity curve a SeqGAN gain must beat), and
optionally scheduled sampling and PG-BLEU fine-tuned from the MLE generator. Every row (keys
`<row>/...` in summary.json) puts NLL_oracle beside NLL_test, unigram entropy (nats),
distinct-2/3, the unique fraction and an attractor check against held-out oracle samples (row
`oracle`), because a generator can buy a low NLL_oracle by collapsing onto a few sequences the
oracle likes. Outputs: metrics.csv, a plot of NLL_oracle against epochs, token files
`samples_<row>.txt` holding the very samples each row was scored on (one sequence of
space-separated ids per line), checkpoints for `--resume`, summary.json.
"""

import copy
import time
from collections.abc import Callable
from typing import Any

import torch
from pydantic import Field, model_validator

from gmrl.core.config import PositiveFloat, Probability, RecipeConfig, StrictModel
from gmrl.core.device import resolve_device, torch_threads
from gmrl.core.loop import TrainingLoop, is_due
from gmrl.core.rundir import RunDir
from gmrl.core.seeding import rng_state, seed_everything, set_rng_state, torch_generator
from gmrl.generative.autoregressive import AutoregressiveModel
from gmrl.sequence.baselines import pg_bleu, scheduled_sampling
from gmrl.sequence.data import oracle_path
from gmrl.sequence.discriminator import DiscriminatorConfig
from gmrl.sequence.diversity import attractor_check, copy_rate, run_mask, sequence_diversity
from gmrl.sequence.generation import model_nll, sample_sequences
from gmrl.sequence.generator import GeneratorConfig
from gmrl.sequence.oracle import OracleLSTM
from gmrl.sequence.seqgan import RolloutConfig, SeqGAN
from gmrl.sequence.tokens import write_token_file

SUMMARY = "SeqGAN on the SeqGAN paper's oracle LSTM (Table 1): MLE, scheduled sampling, SeqGAN"


class DataSection(StrictModel):
    n_train: int = Field(10_000, ge=1, description="oracle sequences to train on (paper 10,000)")
    n_test: int = Field(10_000, ge=1, description="held-out oracle sequences for NLL_test")


class PretrainSection(StrictModel):
    mle_epochs: int = Field(120, ge=0)
    batch_size: int = Field(64, ge=1)
    d_rounds: int = Field(50, ge=0, description="discriminator pre-training: fresh negatives each")
    d_epochs: int = Field(3, ge=1)
    n_negative: int = Field(10_000, ge=1)


class AdversarialSection(RolloutConfig):
    """The rollout policy gradient's own config (n_rollouts, rollout_rate, lr) plus the
    adversarial schedule. The generator and discriminator sections are likewise the components'
    configs (`GeneratorConfig`, `DiscriminatorConfig`), so each default lives in one place."""

    rounds: int = Field(200, ge=0)
    g_steps: int = Field(1, ge=1)
    batch_size: int = Field(64, ge=1)
    d_steps: int = Field(5, ge=0)
    d_epochs: int = Field(3, ge=1)
    n_negative: int = Field(10_000, ge=1)


class EvalSection(StrictModel):
    every: int = Field(5, ge=1, description="evaluate (and checkpoint) every N epochs / rounds")
    n_samples: int = Field(10_000, ge=1, description="generator samples per periodic evaluation")
    final_samples: int = Field(100_000, ge=1, description="samples for the final figures")
    temperatures: list[PositiveFloat] = Field(
        default_factory=list, description="extra MLE sampling temperatures (quality-diversity)"
    )
    write_samples: int = Field(
        10_000, ge=0, description="scored samples written to each token file (<= final_samples)"
    )


class BaselinesSection(StrictModel):
    ss_epochs: int = Field(0, ge=0, description="scheduled sampling epochs from the MLE model")
    ss_max_prob: Probability = Field(0.25)
    pg_bleu_rounds: int = Field(
        0, ge=0, description="PG-BLEU rounds from the MLE model (adversarial batch, rollouts, lr)"
    )


class Config(RecipeConfig):
    recipe: str = "seqgan"
    quick: bool = Field(False, description="shrink everything for CI (seconds, not hours)")
    data: DataSection = Field(default_factory=DataSection)
    generator: GeneratorConfig = Field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = Field(default_factory=DiscriminatorConfig)
    pretrain: PretrainSection = Field(default_factory=PretrainSection)
    adversarial: AdversarialSection = Field(default_factory=AdversarialSection)
    eval: EvalSection = Field(default_factory=EvalSection)
    baselines: BaselinesSection = Field(default_factory=BaselinesSection)

    @model_validator(mode="after")
    def _token_files_hold_scored_samples(self) -> "Config":
        """Token files hold the very samples the final figures were computed on, so that a
        rescoring of a file reproduces the table; there are only `final_samples` of those."""
        if self.eval.write_samples > self.eval.final_samples:
            raise ValueError(
                f"eval.write_samples ({self.eval.write_samples}) exceeds eval.final_samples "
                f"({self.eval.final_samples}): token files hold the scored samples; lower it "
                "or raise eval.final_samples"
            )
        return self

    @model_validator(mode="after")
    def _negatives_have_real_partners(self) -> "Config":
        """Each discriminator round pairs its fresh negatives with as many distinct real
        sequences; more negatives than training sequences would unbalance the classes."""
        if not self.quick:
            for section in ("pretrain", "adversarial"):
                negatives = getattr(self, section).n_negative
                if negatives > self.data.n_train:
                    raise ValueError(
                        f"{section}.n_negative ({negatives}) exceeds data.n_train "
                        f"({self.data.n_train}): lower it or draw more training sequences"
                    )
        return self

    def effective(self) -> "Config":
        """The config actually run: with `quick`, every size is cut to a CI-sized run."""
        if not self.quick:
            return self
        small = self.model_copy(deep=True)
        small.data = DataSection(n_train=256, n_test=128)
        small.discriminator.width = 0.05
        small.pretrain = PretrainSection(
            mle_epochs=2, batch_size=64, d_rounds=1, d_epochs=1, n_negative=128
        )
        adv = self.adversarial
        small.adversarial = AdversarialSection(
            rounds=2, g_steps=1, batch_size=8, n_rollouts=2, rollout_rate=adv.rollout_rate,
            lr=adv.lr, d_steps=1, d_epochs=1, n_negative=128,
        )
        small.eval = EvalSection(
            every=1, n_samples=128, final_samples=256,
            temperatures=self.eval.temperatures[:1],
            write_samples=min(self.eval.write_samples, 256),
        )
        small.baselines.ss_epochs = min(self.baselines.ss_epochs, 1)
        small.baselines.pg_bleu_rounds = min(self.baselines.pg_bleu_rounds, 2)
        return small


def prepare(config: Config) -> None:
    """Fail before the run directory exists when the oracle file cannot be found."""
    OracleLSTM.from_npz(oracle_path())


def _evaluate(
    model: AutoregressiveModel, oracle: OracleLSTM, test: torch.Tensor, n: int,
    generator: torch.Generator, temperature: float = 1.0,
) -> dict[str, float]:
    """The periodic figures: NLL_oracle and NLL_test beside the samples' diversity."""
    samples = sample_sequences(model, n, generator, temperature)
    return {f"eval/{name}": value for name, value in _score(samples, model, oracle, test,
                                                          temperature).items()}


def _score(samples: torch.Tensor, model: AutoregressiveModel | None, oracle: OracleLSTM,
           test: torch.Tensor, temperature: float = 1.0,
           token_nll: torch.Tensor | None = None) -> dict[str, float]:
    """NLL_oracle of `samples` (from their per-token oracle NLL when the caller has it), NLL_test
    of `model` (skipped without one) and the samples' diversity (less the token id)."""
    if token_nll is None:
        token_nll = oracle.token_nll(samples)
    figures = {"nll_oracle": float(token_nll.mean())}
    if model is not None:
        figures["nll_test"] = model_nll(model, test, temperature)
    figures.update({k: v for k, v in sequence_diversity(samples).items() if k != "top_token"})
    return figures


def final_figures(
    name: str, model: AutoregressiveModel | None, samples: torch.Tensor, oracle: OracleLSTM,
    train: torch.Tensor, test: torch.Tensor, temperature: float = 1.0,
) -> dict[str, float]:
    """A table row, keys `<name>/...`: NLL_oracle beside NLL_test, diversity, the attractor
    check against the held-out oracle samples, NLL_oracle without the sequences that hold a run
    of four copies of one token (what a collapse onto the oracle's attractors is worth), and
    the share of samples that copy a training sequence."""
    token_nll = oracle.token_nll(samples)  # one oracle pass serves both NLL_oracle figures
    figures = _score(samples, model, oracle, test, temperature, token_nll)
    check = attractor_check(samples, test)
    figures.update({k: check[k] for k in ("reference_top_token_share", "reference_run_share",
                                          "attractor")})
    kept = ~run_mask(samples).to(token_nll.device)
    figures["nll_oracle_without_runs"] = (float(token_nll[kept].mean()) if kept.any()
                                          else float("nan"))
    figures["copy_rate"] = copy_rate(samples, train)
    return {f"{name}/{key}": value for key, value in figures.items()}


def _write_samples(run: RunDir, name: str, samples: torch.Tensor, count: int) -> None:
    """`samples_<name>.txt`: the first `count` of the samples a table row was scored on."""
    if count > 0:
        write_token_file(samples[:count].tolist(), run.path / f"samples_{name}.txt")


def oracle_data(config: Config, oracle: OracleLSTM) -> tuple[torch.Tensor, torch.Tensor]:
    """The run's training and held-out oracle sequences (a function of the seed alone; the
    two sets come from separate seed streams, so no run's test set is another's training set)."""
    train = oracle.sample(config.data.n_train, torch_generator(config.seed, "train_data"))
    return train, oracle.sample(config.data.n_test, torch_generator(config.seed, "test_data"))


def pg_bleu_baseline(
    config: Config, mle_model: AutoregressiveModel, oracle: OracleLSTM, train: torch.Tensor,
    test: torch.Tensor, generator: torch.Generator,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, float]:
    """PG-BLEU from a copy of the MLE model: NLL_oracle, NLL_test and the share of samples that
    copy a training sequence, for the MLE model and the PG-BLEU result. `should_stop()` is
    asked after every round (the figures are then those of a shorter run)."""
    return pg_bleu_run(config, mle_model, oracle, train, test, generator, should_stop)[0]


def pg_bleu_run(
    config: Config, mle_model: AutoregressiveModel, oracle: OracleLSTM, train: torch.Tensor,
    test: torch.Tensor, generator: torch.Generator,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[dict[str, float], torch.Tensor]:
    """`pg_bleu_baseline`'s figures and the samples they were scored on (for the token file)."""
    model = copy.deepcopy(mle_model)
    ac = config.adversarial
    rewards = pg_bleu(model, train, config.baselines.pg_bleu_rounds, ac.batch_size,
                      ac.n_rollouts, ac.rollout_rate, ac.lr, config.generator.grad_clip,
                      generator, should_stop=should_stop)
    samples = sample_sequences(model, config.eval.final_samples, generator)
    figures = final_figures("pg_bleu", model, samples, oracle, train, test)
    figures.update({"pg_bleu/first_reward": rewards[0], "pg_bleu/last_reward": rewards[-1]})
    return figures, samples


def _plot(run: RunDir, mle_epochs: int, d_rounds: int) -> None:
    from gmrl.core.plots import plt, save_figure

    points = [(int(r["step"]), float(r["eval/nll_oracle"])) for r in run.rows
              if r.get("eval/nll_oracle") not in (None, "")]
    if not points:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    steps, values = zip(*points, strict=True)
    ax.plot(steps, values, marker=".", label="generator (MLE, then SeqGAN)")
    ax.axvline(mle_epochs, color="grey", linestyle="--", label="discriminator pre-training")
    ax.axvline(mle_epochs + d_rounds, color="black", linestyle="--",
               label="adversarial training starts")
    ax.set_xlabel("step: MLE epoch, then discriminator round, then adversarial round")
    ax.set_ylabel("NLL_oracle")
    ax.set_title("SeqGAN on the paper's oracle")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, run.plots_dir / "nll_oracle.png", dpi=120)


def run(config: Config, run: RunDir) -> dict[str, float]:
    """MLE pre-training, discriminator pre-training, adversarial rounds; one torch thread."""
    with torch_threads(1):
        return _run(config, run)


class _SeqGANRun:
    """Everything the three phases share, and the state a checkpoint holds.

    Steps count MLE epochs (1..E), then discriminator pre-training rounds (E+1..E+D), then
    adversarial rounds (E+D+1..E+D+R), so each phase's unit of work is one loop step (Ctrl-C is
    honoured after it). The MLE figures and baselines are computed once, between the last MLE
    epoch and the next step, from their own seed stream and with every global RNG put back
    afterwards, so an interruption inside them resumes from the MLE checkpoint and redoes them
    identically.
    """

    def __init__(self, cfg: Config, run: RunDir) -> None:
        self.cfg, self.run = cfg, run
        device = resolve_device(cfg.device)
        self.oracle = OracleLSTM.from_npz(oracle_path()).to(device)
        train, test = oracle_data(cfg, self.oracle)
        self.train, self.test = train.to(device), test.to(device)
        vocab, length = self.oracle.vocab_size, self.oracle.seq_len
        self.model = cfg.generator.build(vocab, length).to(device)
        discriminator = cfg.discriminator.build(vocab, length).to(device)
        ac = cfg.adversarial
        self.seqgan = SeqGAN(self.model, discriminator, ac.n_rollouts, ac.rollout_rate, ac.lr,
                             cfg.generator.grad_clip)
        self.g = torch_generator(cfg.seed, "training")
        self.results: dict[str, float] = {}
        self.mle_snapshot: dict[str, torch.Tensor] | None = None
        self.timing = {"cpu_s": 0.0, "wall_s": 0.0}
        self.started = (time.process_time(), time.perf_counter())

    def elapsed(self) -> dict[str, float]:
        return {"cpu_s": self.timing["cpu_s"] + time.process_time() - self.started[0],
                "wall_s": self.timing["wall_s"] + time.perf_counter() - self.started[1]}

    # ------------------------------------------------------------------ checkpoint
    def state(self) -> dict[str, Any]:
        return {
            "generator": self.model.training_state(), "seqgan": self.seqgan.state(),
            "mle_snapshot": self.mle_snapshot, "results": dict(self.results),
            "timing": self.elapsed(), "generator_rng": self.g.get_state(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.model.load_training_state(state["generator"])
        self.seqgan.load_state(state["seqgan"])
        self.mle_snapshot = state["mle_snapshot"]
        self.results = dict(state["results"])
        self.timing = dict(state["timing"])
        self.g.set_state(state["generator_rng"])

    # ------------------------------------------------------------------ phases
    def random_baseline(self) -> dict[str, float]:
        """The untrained generator's row, and the held-out oracle samples' own row (the
        reference every diversity figure is read against); logged as step 0's evaluation."""
        samples = sample_sequences(self.model, self.cfg.eval.final_samples, self.g)
        self.results.update(final_figures("random", self.model, samples, self.oracle,
                                          self.train, self.test))
        self.results.update(final_figures("oracle", None, self.test, self.oracle, self.train,
                                          self.test))
        return {"eval/nll_oracle": self.results["random/nll_oracle"],
                "eval/nll_test": self.results["random/nll_test"]}

    def mle_epoch(self) -> dict[str, float]:
        history = self.model.fit(self.train, epochs=1, batch_size=self.cfg.pretrain.batch_size,
                                 generator=self.g)
        return {"losses/mle_loss": history.last("loss"), "charts/phase": 0}

    def evaluate(self) -> dict[str, float]:
        return _evaluate(self.model, self.oracle, self.test, self.cfg.eval.n_samples, self.g)

    def finish_mle(self, loop: TrainingLoop, step: int) -> None:
        """MLE figures (and temperature curve), token file, baselines; then arm SeqGAN.

        Runs right after MLE epoch `step`'s checkpoint, from its own seed stream and with every
        global RNG put back afterwards, so the run's state is still the one of `step`: a Ctrl-C
        inside it re-saves that state, and the resumed run redoes this work identically.
        """
        saved = rng_state()
        try:
            results = self._mle_figures(lambda: loop.stop_requested)
        finally:
            set_rng_state(saved)
        loop.check_stop(step)
        self.results.update(results)
        self.mle_snapshot = {k: v.clone() for k, v in self.model.state_dict().items()}
        self.seqgan.sync_rollout()

    def _mle_figures(self, stop: Callable[[], bool]) -> dict[str, float]:
        """The MLE model's figures and baselines (incomplete once `stop()` turns True)."""
        cfg, ec, model = self.cfg, self.cfg.eval, self.model
        stream = torch_generator(cfg.seed, "mle_figures")
        results: dict[str, float] = {"time/mle_cpu_s": self.elapsed()["cpu_s"]}
        for temperature in [1.0, *ec.temperatures]:
            if stop():
                return results
            name = "mle" if temperature == 1.0 else f"mle_t{temperature:g}"
            samples = sample_sequences(model, ec.final_samples, stream, temperature)
            results.update(final_figures(name, model, samples, self.oracle, self.train,
                                         self.test, temperature))
            _write_samples(self.run, name, samples, ec.write_samples)
        if cfg.baselines.ss_epochs > 0 and not stop():
            ss_model = copy.deepcopy(model)
            ss_model._optimizers = {}  # a fresh Adam, as a new training run would have
            scheduled_sampling(ss_model, self.train, cfg.baselines.ss_epochs,
                               cfg.baselines.ss_max_prob, cfg.pretrain.batch_size, stream,
                               should_stop=stop)
            samples = sample_sequences(ss_model, ec.final_samples, stream)
            results.update(final_figures("ss", ss_model, samples, self.oracle, self.train,
                                         self.test))
            _write_samples(self.run, "ss", samples, ec.write_samples)
        if cfg.baselines.pg_bleu_rounds > 0 and not stop():
            figures, samples = pg_bleu_run(cfg, model, self.oracle, self.train, self.test,
                                           stream, should_stop=stop)
            results.update(figures)
            _write_samples(self.run, "pg_bleu", samples, ec.write_samples)
        return results

    def discriminator_round(self) -> dict[str, float]:
        pc, dc = self.cfg.pretrain, self.cfg.discriminator
        metrics = self.seqgan.discriminator_step(self.train, pc.n_negative, pc.d_epochs,
                                                 dc.batch_size, self.g)
        return {**metrics, "charts/phase": 0}

    def adversarial_round(self) -> dict[str, float]:
        ac, dc = self.cfg.adversarial, self.cfg.discriminator
        metrics: dict[str, float] = {}
        for _ in range(ac.g_steps):
            metrics = self.seqgan.generator_step(ac.batch_size, self.g)
        self.seqgan.update_rollout()
        for _ in range(ac.d_steps):
            metrics.update(self.seqgan.discriminator_step(self.train, ac.n_negative,
                                                          ac.d_epochs, dc.batch_size, self.g))
        metrics["charts/phase"] = 1
        return metrics


def _run(config: Config, run: RunDir) -> dict[str, float]:
    cfg = config.effective()
    seed_everything(cfg.seed)
    work = _SeqGANRun(cfg, run)
    mle, d_rounds, rounds = cfg.pretrain.mle_epochs, cfg.pretrain.d_rounds, cfg.adversarial.rounds
    every = cfg.eval.every
    loop = TrainingLoop(run, total=mle + d_rounds + rounds, description="SeqGAN",
                        state=work.state, restore=work.restore)
    start = loop.resume()
    if loop.last_checkpoint is None:
        loop.log(0, {**work.random_baseline(), "charts/phase": 0})

    with loop:
        for step in range(start + 1, loop.total + 1):
            if step <= mle:  # phase 1: maximum likelihood, one epoch per step
                metrics, due = work.mle_epoch(), is_due(step, every, mle)
                if due:
                    metrics.update(work.evaluate())
                info = "MLE"
            else:
                if work.mle_snapshot is None:
                    work.finish_mle(loop, step - 1)
                if step <= mle + d_rounds:  # phase 2: discriminator pre-training rounds
                    metrics, due = work.discriminator_round(), is_due(step - mle, every, d_rounds)
                    if step == mle + d_rounds:
                        work.results["time/pretrain_cpu_s"] = work.elapsed()["cpu_s"]
                    info = "discriminator pre-training"
                else:  # phase 3: adversarial rounds
                    metrics = work.adversarial_round()
                    due = is_due(step - mle - d_rounds, every, rounds)
                    if due:
                        metrics.update(work.evaluate())
                    info = "adversarial"
            if "eval/nll_oracle" in metrics:
                info += f" NLL_oracle {metrics['eval/nll_oracle']:.3f}"
            loop.end_step(step, metrics, info=info, checkpoint=True if due else None)
        if work.mle_snapshot is None:  # no discriminator or adversarial steps
            work.finish_mle(loop, loop.total)

    results, model, ec, g = work.results, work.model, cfg.eval, work.g
    samples = sample_sequences(model, ec.final_samples, g)
    results.update(final_figures("seqgan", model, samples, work.oracle, work.train, work.test))
    _write_samples(run, "seqgan", samples, ec.write_samples)
    _plot(run, mle, d_rounds)
    clock = work.elapsed()
    results["time/total_cpu_s"] = clock["cpu_s"]
    results["time/total_wall_s"] = clock["wall_s"]
    return results
