"""SeqGAN on the paper's oracle: MLE pre-training, discriminator pre-training, adversarial rounds.

Reproduces the synthetic-data experiment of Yu et al. (2017): the oracle LSTM (the paper's own
weights) draws 10,000 training and 10,000 held-out sequences of 20 tokens; a generator LSTM is
pre-trained by maximum likelihood, then trained as a policy against a CNN discriminator. Logged
per MLE epoch and adversarial round (every `eval.every`):

- `eval/nll_oracle`: the oracle's per-token NLL of generator samples (the paper's metric);
- `eval/nll_test`: the generator's per-token NLL of the held-out oracle sequences.

Baselines measured in the same run: the random (untrained) generator, the MLE generator (also at
lower sampling temperatures: the quality-diversity curve a SeqGAN gain must beat), and
optionally scheduled sampling fine-tuned from the MLE generator. Outputs: metrics.csv, a plot of
NLL_oracle against epochs, token files `samples_mle.txt` and `samples_seqgan.txt` (one sequence
of space-separated ids per line), checkpoints for `--resume`, summary.json.
"""

import copy
import time
from pathlib import Path

import torch
from pydantic import Field

from gmrl.core.config import RecipeConfig, StrictModel
from gmrl.core.device import resolve_device, torch_threads
from gmrl.core.errors import RunInterrupted
from gmrl.core.rundir import RunDir
from gmrl.core.seeding import rng_state, seed_everything, set_rng_state
from gmrl.sequence.baselines import build_generator, pg_bleu, scheduled_sampling
from gmrl.sequence.data import oracle_path
from gmrl.sequence.discriminator import CNNDiscriminator
from gmrl.sequence.diversity import copy_rate
from gmrl.sequence.generation import model_nll, sample_sequences
from gmrl.sequence.oracle import OracleLSTM
from gmrl.sequence.seqgan import SeqGAN

SUMMARY = "SeqGAN on the SeqGAN paper's oracle LSTM (Table 1): MLE, scheduled sampling, SeqGAN"


class DataSection(StrictModel):
    n_train: int = Field(10_000, ge=1, description="oracle sequences to train on (paper 10,000)")
    n_test: int = Field(10_000, ge=1, description="held-out oracle sequences for NLL_test")


class GeneratorSection(StrictModel):
    embed_dim: int = Field(32, ge=1)
    hidden: int = Field(32, ge=1)
    lr: float = Field(0.01, gt=0, description="Adam learning rate of MLE pre-training")
    grad_clip: float = Field(5.0, ge=0)
    init_std: float | None = Field(
        0.1, gt=0, description="N(0, std^2) init of every weight, as the paper's code; null = "
        "PyTorch defaults (MLE then plateaus about 0.3 nats worse in NLL_oracle)",
    )


class DiscriminatorSection(StrictModel):
    embed_dim: int = Field(64, ge=1)
    width: float = Field(1.0, gt=0, description="scale of the paper's filter counts (100-200)")
    dropout: float = Field(0.25, ge=0, lt=1, description="paper: keep probability 0.75")
    l2: float = Field(0.2, ge=0)
    lr: float = Field(1e-4, gt=0)
    batch_size: int = Field(64, ge=1)


class PretrainSection(StrictModel):
    mle_epochs: int = Field(120, ge=0)
    batch_size: int = Field(64, ge=1)
    d_rounds: int = Field(50, ge=0, description="discriminator pre-training: fresh negatives each")
    d_epochs: int = Field(3, ge=1)
    n_negative: int = Field(10_000, ge=1)


class AdversarialSection(StrictModel):
    rounds: int = Field(200, ge=0)
    g_steps: int = Field(1, ge=1)
    batch_size: int = Field(64, ge=1)
    n_rollouts: int = Field(16, ge=1)
    rollout_rate: float = Field(0.8, ge=0, le=1)
    lr: float = Field(0.01, gt=0)
    d_steps: int = Field(5, ge=0)
    d_epochs: int = Field(3, ge=1)
    n_negative: int = Field(10_000, ge=1)


class EvalSection(StrictModel):
    every: int = Field(5, ge=1, description="evaluate (and checkpoint) every N epochs / rounds")
    n_samples: int = Field(10_000, ge=1, description="generator samples per periodic evaluation")
    final_samples: int = Field(100_000, ge=1, description="samples for the final figures")
    temperatures: list[float] = Field(
        default_factory=list, description="extra MLE sampling temperatures (quality-diversity)"
    )
    write_samples: int = Field(10_000, ge=0, description="sequences written to each token file")


class BaselinesSection(StrictModel):
    ss_epochs: int = Field(0, ge=0, description="scheduled sampling epochs from the MLE model")
    ss_max_prob: float = Field(0.25, ge=0, le=1)
    pg_bleu_rounds: int = Field(
        0, ge=0, description="PG-BLEU rounds from the MLE model (adversarial batch, rollouts, lr)"
    )


class Config(RecipeConfig):
    recipe: str = "seqgan"
    quick: bool = Field(False, description="shrink everything for CI (seconds, not hours)")
    data: DataSection = Field(default_factory=DataSection)
    generator: GeneratorSection = Field(default_factory=GeneratorSection)
    discriminator: DiscriminatorSection = Field(default_factory=DiscriminatorSection)
    pretrain: PretrainSection = Field(default_factory=PretrainSection)
    adversarial: AdversarialSection = Field(default_factory=AdversarialSection)
    eval: EvalSection = Field(default_factory=EvalSection)
    baselines: BaselinesSection = Field(default_factory=BaselinesSection)

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
            temperatures=self.eval.temperatures[:1], write_samples=32,
        )
        small.baselines.ss_epochs = min(self.baselines.ss_epochs, 1)
        small.baselines.pg_bleu_rounds = min(self.baselines.pg_bleu_rounds, 2)
        return small


def prepare(config: Config) -> None:
    """Fail before the run directory exists when the oracle file cannot be found."""
    OracleLSTM.from_npz(oracle_path())


def _evaluate(model, oracle, test, n, generator, temperature=1.0) -> dict[str, float]:
    samples = sample_sequences(model, n, generator, temperature)
    return {"eval/nll_oracle": oracle.nll(samples),
            "eval/nll_test": model_nll(model, test, temperature)}


def oracle_data(config: Config, oracle: OracleLSTM) -> tuple[torch.Tensor, torch.Tensor]:
    """The run's training and held-out oracle sequences (a function of the seed alone)."""
    data_gen = torch.Generator().manual_seed(config.seed)
    train = oracle.sample(config.data.n_train, data_gen)
    return train, oracle.sample(config.data.n_test, data_gen)


def pg_bleu_baseline(
    config: Config, mle_model: torch.nn.Module, oracle: OracleLSTM, train: torch.Tensor,
    test: torch.Tensor, generator: torch.Generator,
) -> dict[str, float]:
    """PG-BLEU from a copy of the MLE model: NLL_oracle, NLL_test and the share of samples that
    copy a training sequence, for the MLE model and the PG-BLEU result."""
    n = config.eval.final_samples
    mle_copies = copy_rate(sample_sequences(mle_model, n, generator), train)
    model = copy.deepcopy(mle_model)
    ac = config.adversarial
    rewards = pg_bleu(model, train, config.baselines.pg_bleu_rounds, ac.batch_size,
                      ac.n_rollouts, ac.rollout_rate, ac.lr, config.generator.grad_clip,
                      generator)
    figures = _evaluate(model, oracle, test, n, generator)
    return {"mle/copy_rate": mle_copies,
            "pg_bleu/copy_rate": copy_rate(sample_sequences(model, n, generator), train),
            "pg_bleu/nll_oracle": figures["eval/nll_oracle"],
            "pg_bleu/nll_test": figures["eval/nll_test"],
            "pg_bleu/first_reward": rewards[0], "pg_bleu/last_reward": rewards[-1]}


def _write_tokens(path: Path, tokens: torch.Tensor) -> None:
    lines = (" ".join(map(str, row)) for row in tokens.tolist())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _plot(run: RunDir, mle_epochs: int) -> None:
    from gmrl.core.plots import plt, save_figure

    points = [(int(r["step"]), float(r["eval/nll_oracle"])) for r in run.rows
              if r.get("eval/nll_oracle") not in (None, "")]
    if not points:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    steps, values = zip(*points, strict=True)
    ax.plot(steps, values, marker=".", label="generator (MLE, then SeqGAN)")
    ax.axvline(mle_epochs, color="grey", linestyle="--", label="adversarial training starts")
    ax.set_xlabel("epoch (MLE) / round (adversarial)")
    ax.set_ylabel("NLL_oracle")
    ax.set_title("SeqGAN on the paper's oracle")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, run.plots_dir / "nll_oracle.png", dpi=120)


def run(config: Config, run: RunDir) -> dict[str, float]:
    """MLE pre-training, discriminator pre-training, adversarial rounds; one torch thread."""
    with torch_threads(1):
        return _run(config, run)


def _run(config: Config, run: RunDir) -> dict[str, float]:
    cfg = config.effective()
    g = seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    oracle = OracleLSTM.from_npz(oracle_path()).to(device)
    train, test = (part.to(device) for part in oracle_data(cfg, oracle))
    gc, dc, pc, ac, ec = cfg.generator, cfg.discriminator, cfg.pretrain, cfg.adversarial, cfg.eval
    model = build_generator(oracle.vocab_size, oracle.seq_len, gc.embed_dim, gc.hidden,
                            gc.lr, gc.grad_clip, gc.init_std).to(device)
    discriminator = CNNDiscriminator(
        oracle.vocab_size, oracle.seq_len, dc.embed_dim, width=dc.width, dropout=dc.dropout,
        l2=dc.l2, lr=dc.lr,
    ).to(device)
    mle_snapshot: dict | None = None
    results: dict[str, float] = {}
    epoch, rounds_done, seqgan = 0, 0, None
    timing = {"cpu_s": 0.0, "wall_s": 0.0}
    started = (time.process_time(), time.perf_counter())

    def elapsed() -> dict[str, float]:
        return {"cpu_s": timing["cpu_s"] + time.process_time() - started[0],
                "wall_s": timing["wall_s"] + time.perf_counter() - started[1]}

    def checkpoint(step: int) -> None:
        state = {
            "epoch": epoch, "rounds": rounds_done, "generator": model.training_state(),
            "mle_snapshot": mle_snapshot, "results": dict(results), "timing": elapsed(),
            "seqgan": seqgan.state() if seqgan is not None else None,
            "rng": rng_state(), "generator_rng": g.get_state(),
        }
        run.save_checkpoint(step, state)
        if run.stop_requested:
            raise RunInterrupted(step)

    resumed = run.load_latest_checkpoint()
    if resumed is not None:
        _, state = resumed
        epoch, rounds_done = int(state["epoch"]), int(state["rounds"])
        model.load_training_state(state["generator"])
        mle_snapshot, results = state["mle_snapshot"], dict(state["results"])
        timing.update(state["timing"])
        set_rng_state(state["rng"])
        g.set_state(state["generator_rng"])
    else:
        random_eval = _evaluate(model, oracle, test, ec.final_samples, g)
        results["random/nll_oracle"] = random_eval["eval/nll_oracle"]
        results["random/nll_test"] = random_eval["eval/nll_test"]
        run.log(0, {**random_eval, "charts/phase": 0})

    with run.progress() as bar:
        task = bar.add_task("MLE pre-training", total=pc.mle_epochs, completed=epoch, info="")
        while epoch < pc.mle_epochs:
            history = model.fit(train, epochs=1, batch_size=pc.batch_size, generator=g)
            epoch += 1
            metrics = {"losses/mle_loss": history.last("loss"), "charts/phase": 0}
            if epoch % ec.every == 0 or epoch == pc.mle_epochs:
                metrics.update(_evaluate(model, oracle, test, ec.n_samples, g))
                bar.update(task, info=f"NLL_oracle {metrics['eval/nll_oracle']:.3f}")
            run.log(epoch, metrics)
            bar.update(task, advance=1)
            if epoch % ec.every == 0 or epoch == pc.mle_epochs:
                checkpoint(epoch)

        if mle_snapshot is None:  # MLE done: final figures, temperature curve, baselines
            mle_snapshot = {k: v.clone() for k, v in model.state_dict().items()}
            for temperature in [1.0, *ec.temperatures]:
                figures = _evaluate(model, oracle, test, ec.final_samples, g, temperature)
                name = "mle" if temperature == 1.0 else f"mle_t{temperature:g}"
                results[f"{name}/nll_oracle"] = figures["eval/nll_oracle"]
                results[f"{name}/nll_test"] = figures["eval/nll_test"]
            _write_tokens(run.path / "samples_mle.txt",
                          sample_sequences(model, ec.write_samples, g))
            results["time/mle_cpu_s"] = elapsed()["cpu_s"]
            if cfg.baselines.ss_epochs > 0:
                ss_model = copy.deepcopy(model)
                ss_model._optimizers = {}  # a fresh Adam, as a new training run would have
                scheduled_sampling(ss_model, train, cfg.baselines.ss_epochs,
                                   cfg.baselines.ss_max_prob, pc.batch_size, g)
                figures = _evaluate(ss_model, oracle, test, ec.final_samples, g)
                results["ss/nll_oracle"] = figures["eval/nll_oracle"]
                results["ss/nll_test"] = figures["eval/nll_test"]
                del ss_model
            if cfg.baselines.pg_bleu_rounds > 0:
                results.update(pg_bleu_baseline(cfg, model, oracle, train, test, g))
            seqgan = SeqGAN(model, discriminator, ac.n_rollouts, ac.rollout_rate, ac.lr,
                            gc.grad_clip)
            d_task = bar.add_task("discriminator pre-training", total=pc.d_rounds, info="")
            for _ in range(pc.d_rounds):
                d_metrics = seqgan.discriminator_step(train, pc.n_negative, pc.d_epochs,
                                                      dc.batch_size, g)
                bar.update(d_task, advance=1,
                           info=f"loss {d_metrics['losses/discriminator_loss']:.3f}")
            results["time/pretrain_cpu_s"] = elapsed()["cpu_s"]
            checkpoint(epoch)
        else:
            seqgan = SeqGAN(model, discriminator, ac.n_rollouts, ac.rollout_rate, ac.lr,
                            gc.grad_clip)
            seqgan.load_state(state["seqgan"])

        a_task = bar.add_task("adversarial rounds", total=ac.rounds, completed=rounds_done,
                              info="")
        while rounds_done < ac.rounds:
            for _ in range(ac.g_steps):
                metrics = seqgan.generator_step(ac.batch_size, g)
            seqgan.update_rollout()
            for _ in range(ac.d_steps):
                metrics.update(seqgan.discriminator_step(train, ac.n_negative, ac.d_epochs,
                                                         dc.batch_size, g))
            rounds_done += 1
            metrics["charts/phase"] = 1
            boundary = rounds_done % ec.every == 0 or rounds_done == ac.rounds
            if boundary:
                metrics.update(_evaluate(model, oracle, test, ec.n_samples, g))
                bar.update(a_task, info=f"NLL_oracle {metrics['eval/nll_oracle']:.3f}")
            run.log(pc.mle_epochs + rounds_done, metrics)
            bar.update(a_task, advance=1)
            if boundary:
                checkpoint(pc.mle_epochs + rounds_done)

    final = _evaluate(model, oracle, test, ec.final_samples, g)
    results["seqgan/nll_oracle"] = final["eval/nll_oracle"]
    results["seqgan/nll_test"] = final["eval/nll_test"]
    results["seqgan/copy_rate"] = copy_rate(sample_sequences(model, ec.final_samples, g), train)
    _write_tokens(run.path / "samples_seqgan.txt", sample_sequences(model, ec.write_samples, g))
    _plot(run, pc.mle_epochs)
    clock = elapsed()
    results["time/total_cpu_s"] = clock["cpu_s"]
    results["time/total_wall_s"] = clock["wall_s"]
    return results
