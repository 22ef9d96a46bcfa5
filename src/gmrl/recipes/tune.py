"""Recipe `tune`: pre-train a token generator by maximum likelihood, then RL-tune it toward a
reward with a KL penalty to the pre-trained model (KL-regularised reward fine-tuning).

```
gmrl run configs/tune/token_frequency.yaml
gmrl run configs/tune/token_frequency.yaml tuner.estimator=ppo tuner.beta=0.5 steps=100
```

Logs per step: tune/reward, tune/kl, tune/entropy, tune/distinct_1, tune/distinct_2, tune/beta
(pre-training epochs log pretrain/nll first; run steps count epochs, then tuning steps). Writes
plots/tuning.png (reward and KL against tuning steps), checkpoints after pre-training and every
`checkpoint_every` tuning steps, and a summary comparing the pre-trained and tuned models on
fresh samples. One `TrainingLoop` runs both phases: Ctrl-C stops with a checkpoint after the
current epoch or step, and a resumed run writes exactly what an uninterrupted one would. If the
tuner stops (NaN, KL above `tuner.kl_limit`), the plot and a summary are still written and the
run exits with the tuner's one-line error.
"""

from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from gmrl.core.config import PositiveFloat, RecipeConfig, StrictModel
from gmrl.core.device import resolve_device, torch_threads
from gmrl.core.errors import ConfigError
from gmrl.core.loop import TrainingLoop
from gmrl.core.rundir import RunDir
from gmrl.core.seeding import seed_everything, torch_generator
from gmrl.generative.autoregressive import AutoregressiveModel
from gmrl.sequence.diversity import attractor_check, distinct_n, self_bleu, sequence_diversity
from gmrl.sequence.markov import MarkovChain
from gmrl.sequence.rewards import build_reward
from gmrl.sequence.tuner import RewardTuner, TunerConfig, TuningStopped

SUMMARY = "pre-train a token generator (MLE), then RL-tune it to a reward with a KL leash"


class DataSection(StrictModel):
    """Pre-training sequences: a seeded random Markov chain, or an integer .npy file (N, T)."""

    source: Literal["markov", "npy"] = Field("markov", description="markov or npy")
    path: str | None = Field(None, description="the .npy file of token ids (source=npy)")
    vocab_size: int = Field(8, ge=2, description="tokens of the Markov chain (source=markov)")
    seq_len: int = Field(12, ge=2, description="sequence length (source=markov)")
    num_sequences: int = Field(2000, ge=1, description="training sequences (source=markov)")
    concentration: PositiveFloat = Field(0.5, description="Dirichlet concentration of chain rows")
    held_out: float = Field(0.1, ge=0, lt=1, description="fraction kept for held-out NLL")

    @model_validator(mode="after")
    def _npy_needs_a_path(self) -> "DataSection":
        if self.source == "npy" and not self.path:
            raise ValueError("data.source=npy needs data.path pointing at an integer .npy file")
        return self


class ModelSection(StrictModel):
    """The AutoregressiveModel's architecture."""

    cell: Literal["gru", "lstm", "transformer"] = "gru"
    embed_dim: int = Field(32, ge=1)
    hidden: int = Field(64, ge=1)
    layers: int = Field(1, ge=1)
    heads: int = Field(4, ge=1)
    dropout: float = Field(0.0, ge=0, lt=1)


class PretrainSection(StrictModel):
    """Maximum-likelihood pre-training."""

    epochs: int = Field(10, ge=0)
    batch_size: int = Field(64, ge=1)
    lr: PositiveFloat = Field(3e-3, description="Adam learning rate of pre-training")


class RewardSection(StrictModel):
    """Which built-in reward (gmrl.sequence.rewards) to maximise, and its parameters."""

    name: str = Field("token_frequency", description="token_frequency, no_repeat or ascending")
    params: dict[str, Any] = Field(default_factory=dict, description="e.g. {token: 0}")


class Config(RecipeConfig):
    recipe: str = "tune"
    data: DataSection = Field(default_factory=DataSection)
    model: ModelSection = Field(default_factory=ModelSection)
    pretrain: PretrainSection = Field(default_factory=PretrainSection)
    reward: RewardSection = Field(default_factory=RewardSection)
    tuner: TunerConfig = Field(default_factory=TunerConfig)
    steps: int = Field(150, ge=0, description="tuning steps")
    checkpoint_every: int = Field(25, ge=1, description="tuning steps between checkpoints")
    eval_samples: int = Field(1024, ge=2, description="samples scored for the summary")
    cpu_threads: int = Field(
        1, ge=0, description="torch CPU threads (small models run fastest on 1; 0 = torch default)"
    )


def _load_tokens(config: Config) -> torch.Tensor:
    """The pre-training token matrix `(N, T)` (the Markov chain is drawn from the seed)."""
    data = config.data
    if data.source == "markov":
        generator = torch_generator(config.seed, "train_data")
        chain = MarkovChain.random(data.vocab_size, data.concentration, generator)
        return chain.sample(data.num_sequences, data.seq_len, generator)
    if not data.path:
        raise ConfigError("data.source=npy needs data.path pointing at an integer .npy file")
    path = Path(data.path)
    if not path.is_file():
        raise ConfigError(f"data.path '{path}' not found: check the path")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ConfigError(f"data.path '{path}' is not a readable .npy array: {exc}") from exc
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.integer) or array.size == 0:
        raise ConfigError(f"data.path '{path}' must hold a non-empty 2-D integer array (N, T)")
    if array.min() < 0:
        raise ConfigError(f"data.path '{path}' holds negative token ids")
    return torch.from_numpy(array.astype(np.int64))


def _vocab_size(config: Config, tokens: torch.Tensor) -> int:
    if config.data.source == "markov":
        return config.data.vocab_size
    return int(tokens.max()) + 1


def _build_model(config: Config, vocab_size: int, seq_len: int) -> AutoregressiveModel:
    return AutoregressiveModel(
        vocab_size=vocab_size, seq_len=seq_len, lr=config.pretrain.lr, **config.model.model_dump()
    )


def prepare(config: Config) -> None:
    """Check the data, the model and the reward before the run directory exists."""
    tokens = _load_tokens(config)
    vocab = _vocab_size(config, tokens)
    _build_model(config, vocab, tokens.shape[1])
    build_reward(config.reward.name, vocab_size=vocab, **config.reward.params)


def _evaluate(model: AutoregressiveModel, reward_fn: Any, held_out: torch.Tensor,
              config: Config) -> dict[str, float]:
    """Reward beside the diversity of the same fresh samples (distinct-2/3, self-BLEU, unique,
    unigram entropy in nats, the shares of the top sequence and token, run-of-4 share, the
    attractor check against held-out data), and held-out NLL (how much data fit was kept).

    Distinct-n and self-BLEU depend on how many samples are pooled, so they are averaged over
    batches of the tuner's batch size, matching the tune/distinct_* and tune/self_bleu curves.
    """
    model.eval()
    generator = torch_generator(config.seed, "eval_samples")  # same draws before and after
    batch = config.tuner.batch_size
    n = max(batch, config.eval_samples // batch * batch)
    with torch.no_grad():
        samples = model.sample(n, generator=generator)
        chunks = samples.view(-1, batch, samples.shape[1])
        pooled = sequence_diversity(samples)
        figures = {
            "reward": float(reward_fn(samples).float().mean()),
            "distinct_2": sum(distinct_n(c, 2) for c in chunks) / len(chunks),
            "distinct_3": sum(distinct_n(c, 3) for c in chunks) / len(chunks),
            "self_bleu": sum(self_bleu(c) for c in chunks) / len(chunks),
            "unique": pooled["unique_fraction"],
            **{k: pooled[k] for k in ("token_entropy", "top_sequence_share", "top_token_share",
                                      "run_share")},
        }
        if len(held_out):
            figures["held_out_nll"] = float(-model.log_prob(held_out.to(model.device)).mean())
            figures["attractor"] = attractor_check(samples, held_out.to(samples.device))[
                "attractor"]
    return figures


def _plot(rows: list[dict[str, Any]], path: Path) -> None:
    from gmrl.core.plots import plt, save_figure

    tune_rows = [r for r in rows if r.get("tune/reward") not in (None, "")]
    steps = list(range(1, len(tune_rows) + 1))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 5), sharex=True)
    top.plot(steps, [float(r["tune/reward"]) for r in tune_rows], color="tab:green")
    top.set_ylabel("reward (mean)")
    bottom.plot(steps, [float(r["tune/kl"]) for r in tune_rows], color="tab:red")
    bottom.set_ylabel("KL to reference (nats/seq)")
    bottom.set_xlabel("tuning step")
    top.set_title("KL-regularised reward tuning")
    fig.tight_layout()
    save_figure(fig, path, dpi=100)


def run(config: Config, run: RunDir) -> dict[str, float]:
    with torch_threads(config.cpu_threads):
        return _run(config, run)


class _TuneRun:
    """The run's state across both phases, as the training loop checkpoints and restores it.

    Until pre-training ends there is no tuner; from then on the checkpoint also holds the tuner
    (policy, frozen reference, optimizers, baseline, beta, step, sampling RNG), the pre-trained
    model's figures and the last good tuning step's diagnostics, so a run resumed at any
    checkpoint writes the same metrics and summary as one that never stopped.
    """

    def __init__(self, config: Config, model: AutoregressiveModel, reward_fn: Any,
                 held_out: torch.Tensor) -> None:
        self.config, self.model, self.reward_fn, self.held_out = config, model, reward_fn, held_out
        self.shuffle = torch_generator(config.seed, "pretrain_shuffle")
        self.tuner: RewardTuner | None = None
        self.before: dict[str, float] = {}
        self.last: dict[str, float] = {}

    def start_tuning(self) -> RewardTuner:
        """Score the pre-trained model, then freeze it as the tuner's reference."""
        self.before = _evaluate(self.model, self.reward_fn, self.held_out, self.config)
        self.tuner = RewardTuner(
            self.model, self.reward_fn, self.config.tuner,
            generator=torch_generator(self.config.seed, "tune_sampling"),
        )
        return self.tuner

    def record(self, step: int, metrics: dict[str, float]) -> None:
        self.last = {k: metrics[k] for k in ("kl", "entropy", "reward")}

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "model": self.model.training_state(), "shuffle": self.shuffle.get_state(),
        }
        if self.tuner is not None:
            state.update(tuner=self.tuner.state_dict(), before=self.before, last=self.last)
        return state

    def restore(self, state: dict[str, Any]) -> None:
        self.model.load_training_state(state["model"])
        self.shuffle.set_state(state["shuffle"])
        if "tuner" in state:
            tuner = RewardTuner(self.model, self.reward_fn, self.config.tuner,
                                generator=torch.Generator())
            tuner.load_state_dict(state["tuner"])
            self.tuner = tuner
            self.before, self.last = dict(state["before"]), dict(state["last"])


def _run(config: Config, run: RunDir) -> dict[str, float]:
    seed_everything(config.seed)
    device = resolve_device(config.device)
    tokens = _load_tokens(config)
    vocab, seq_len = _vocab_size(config, tokens), tokens.shape[1]
    split = len(tokens) - int(len(tokens) * config.data.held_out)
    train_tokens, held_out = tokens[:split], tokens[split:]
    reward_fn = build_reward(config.reward.name, vocab_size=vocab, **config.reward.params)
    model = _build_model(config, vocab, seq_len).to(device)
    epochs = config.pretrain.epochs
    state = _TuneRun(config, model, reward_fn, held_out)
    loop = TrainingLoop(
        run, total=epochs + config.steps, description="pre-train, then tune",
        state=state.state, restore=state.restore,
    )
    start = loop.resume()

    stopped: TuningStopped | None = None
    with loop:
        for epoch in range(start + 1, epochs + 1):
            history = model.fit(train_tokens, epochs=1, batch_size=config.pretrain.batch_size,
                                generator=state.shuffle)
            metrics = {f"pretrain/{k}": v[-1] for k, v in history.metrics.items()}
            loop.end_step(epoch, metrics, info=f"nll {metrics['pretrain/nll']:.3f}",
                          checkpoint=True if epoch == epochs else None)
        tuner = state.tuner if state.tuner is not None else state.start_tuning()
        try:
            tuner.train(
                config.steps - tuner.step_count, callback=state.record, loop=loop,
                checkpoint_every=config.checkpoint_every, step_offset=epochs,
            )
        except TuningStopped as exc:
            stopped = exc

    _plot(run.rows, run.plots_dir / "tuning.png")
    after = _evaluate(model, reward_fn, held_out, config)
    summary = {f"pretrained/{k}": v for k, v in state.before.items()}
    summary.update({f"tuned/{k}": v for k, v in after.items()})
    summary.update({
        "tune/steps": float(tuner.step_count),
        "tune/beta": float(tuner.kl_controller.beta),
        "stopped_early": float(stopped is not None),
    })
    summary.update({f"tune/{k}": v for k, v in state.last.items()})
    if stopped is not None:
        run.write_summary(summary)
        raise stopped
    model.save(run.path / "tuned_model.safetensors")
    return summary
