"""Recipe `tune`: pre-train a token generator by maximum likelihood, then RL-tune it toward a
reward with a KL penalty to the pre-trained model (KL-regularised reward fine-tuning).

```
gmrl run configs/tune/token_frequency.yaml
gmrl run configs/tune/token_frequency.yaml tuner.estimator=ppo tuner.beta=0.5 steps=100
```

Logs per step: tune/reward, tune/kl, tune/entropy, tune/distinct_1, tune/distinct_2, tune/beta
(pre-training epochs log pretrain/nll first; run steps count epochs, then tuning steps). Writes
plots/tuning.png (reward and KL against tuning steps), checkpoints after pre-training and every
`checkpoint_every` tuning steps (resumable), and a summary comparing the pre-trained and tuned
models on fresh samples. If the tuner stops (NaN, KL above `tuner.kl_limit`), the plot and a
summary are still written and the run exits with the tuner's one-line error.
"""

from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field

from gmrl.core.config import RecipeConfig, StrictModel
from gmrl.core.device import resolve_device, torch_threads
from gmrl.core.errors import ConfigError, RunInterrupted
from gmrl.core.rundir import RunDir
from gmrl.core.seeding import seed_everything
from gmrl.generative.autoregressive import AutoregressiveModel
from gmrl.sequence.diversity import distinct_n, self_bleu, unique_fraction
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
    concentration: float = Field(0.5, gt=0, description="Dirichlet concentration of chain rows")
    held_out: float = Field(0.1, ge=0, lt=1, description="fraction kept for held-out NLL")


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
    lr: float = Field(3e-3, gt=0)


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
        generator = torch.Generator().manual_seed(config.seed + 1_000_003)
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
    """Reward and diversity of fresh samples, and held-out NLL (how much data fit was kept).

    Distinct-n and self-BLEU depend on how many samples are pooled, so they are averaged over
    batches of the tuner's batch size, matching the tune/distinct_* and tune/self_bleu curves.
    """
    model.eval()
    generator = torch.Generator().manual_seed(config.seed + 7)  # same draws before and after
    batch = config.tuner.batch_size
    n = max(batch, config.eval_samples // batch * batch)
    with torch.no_grad():
        samples = model.sample(n, generator=generator)
        chunks = samples.view(-1, batch, samples.shape[1])
        figures = {
            "reward": float(reward_fn(samples).float().mean()),
            "distinct_2": sum(distinct_n(c, 2) for c in chunks) / len(chunks),
            "self_bleu": sum(self_bleu(c) for c in chunks) / len(chunks),
            "unique": unique_fraction(samples),
        }
        if len(held_out):
            figures["held_out_nll"] = float(-model.log_prob(held_out.to(model.device)).mean())
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


def _run(config: Config, run: RunDir) -> dict[str, float]:
    generator = seed_everything(config.seed)
    device = resolve_device(config.device)
    tokens = _load_tokens(config)
    vocab, seq_len = _vocab_size(config, tokens), tokens.shape[1]
    split = len(tokens) - int(len(tokens) * config.data.held_out)
    train_tokens, held_out = tokens[:split], tokens[split:]
    reward_fn = build_reward(config.reward.name, vocab_size=vocab, **config.reward.params)
    model = _build_model(config, vocab, seq_len).to(device)
    epochs = config.pretrain.epochs

    resumed = run.load_latest_checkpoint()
    state: dict[str, Any] | None = None
    if resumed is not None:
        _, state = resumed
        if "generator" in state:  # the tuner's own state restores it in the tuning phase
            generator.set_state(state["generator"])
    if state is None or "pretrained" not in state:
        with run.progress() as bar:
            task = bar.add_task("pre-train", total=epochs, info="")

            def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
                run.log(epoch + 1, {f"pretrain/{k}": v for k, v in metrics.items()})
                bar.update(task, advance=1, info=f"nll {metrics['nll']:.3f}")

            if epochs:
                model.fit(train_tokens, epochs=epochs, batch_size=config.pretrain.batch_size,
                          generator=generator, callback=on_epoch)
        state = {"pretrained": dict(model.state_dict()), "generator": generator.get_state()}
        run.save_checkpoint(epochs, state, phase="pretrain")
        if run.stop_requested:
            raise RunInterrupted(epochs)
    model.load_state_dict(state["pretrained"])
    before = _evaluate(model, reward_fn, held_out, config)

    tuner = RewardTuner(model, reward_fn, config.tuner, generator=generator)
    if "tuner" in state:
        tuner.load_state_dict(state["tuner"])

    stopped: TuningStopped | None = None
    with run.progress() as bar:
        task = bar.add_task("tune", total=config.steps, completed=tuner.step_count, info="")

        def on_step(step: int, metrics: dict[str, float]) -> None:
            info = f"reward {metrics['reward']:.3f} kl {metrics['kl']:.2f}"
            bar.update(task, advance=1, info=info)

        try:
            tuner.train(
                config.steps - tuner.step_count, callback=on_step, run=run,
                checkpoint_every=config.checkpoint_every, step_offset=epochs,
                extra_state={"pretrained": state["pretrained"]},
            )
        except TuningStopped as exc:
            stopped = exc

    _plot(run.rows, run.plots_dir / "tuning.png")
    after = _evaluate(model, reward_fn, held_out, config)
    summary = {f"pretrained/{k}": v for k, v in before.items()}
    summary.update({f"tuned/{k}": v for k, v in after.items()})
    summary.update({
        "tune/steps": float(tuner.step_count),
        "tune/beta": float(tuner.kl_controller.beta),
        "stopped_early": float(stopped is not None),
    })
    if tuner.history:  # the last step of this session (a resumed run may have none left)
        summary.update({f"tune/{k}": tuner.history[-1][k] for k in ("kl", "entropy", "reward")})
    if stopped is not None:
        run.write_summary(summary)
        raise stopped
    model.save(run.path / "tuned_model.safetensors")
    return summary
