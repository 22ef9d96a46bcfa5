"""Recipe `generative`: fit any zoo model to a 2-D toy distribution and plot samples over data.

Every `eval_every` epochs it logs the sample-to-data MMD on held-out data and, for models with a
likelihood, the held-out log-likelihood (exact or a bound) beside a fitted single Gaussian's.
Checkpoints hold the model, its optimizers and every RNG, so a resumed run matches an
uninterrupted one exactly.
"""

from typing import Any, Literal

import torch
from pydantic import Field

from gmrl.core.config import RecipeConfig, StrictModel
from gmrl.core.device import resolve_device
from gmrl.core.errors import ConfigError, RunInterrupted
from gmrl.core.plots import line_plot, plt, save_figure
from gmrl.core.rundir import RunDir
from gmrl.core.seeding import rng_state, seed_everything, set_rng_state
from gmrl.generative import MODEL_REGISTRY, GenerativeModel, build_model
from gmrl.generative.metrics import gaussian_log_likelihood, mmd
from gmrl.generative.toy import toy_data

SUMMARY = "fit a zoo model (vae, gan, flow, diffusion, autoregressive) to 2-D toy data"


class ModelSection(StrictModel):
    """Which zoo model to fit and its constructor parameters (data_dim is set for you)."""

    name: str = Field("flow", description="a name from `gmrl list` (generative models)")
    params: dict[str, Any] = Field(default_factory=dict, description="constructor keywords")


class Config(RecipeConfig):
    recipe: Literal["generative"] = "generative"
    dataset: Literal["two_moons", "eight_gaussians", "checkerboard"] = "two_moons"
    n_train: int = Field(4000, ge=16)
    n_test: int = Field(2000, ge=16)
    model: ModelSection = Field(default_factory=ModelSection)
    epochs: int = Field(60, ge=1)
    batch_size: int = Field(256, ge=1)
    eval_every: int = Field(10, ge=1, description="epochs between evaluations and checkpoints")
    eval_samples: int = Field(2000, ge=16, description="model samples drawn per evaluation")


def make_model(config: Config) -> GenerativeModel:
    """Build the configured model for 2-D vectors; parameter problems become ConfigErrors."""
    name = config.model.name
    if name == "autoregressive":
        raise ConfigError(
            "model 'autoregressive' models token sequences; for 2-D points use "
            "model.name=binned-autoregressive"
        )
    if name not in MODEL_REGISTRY:
        build_model(name)  # raises the one-line unknown-model error
    params = {"data_dim": 2, **config.model.params}
    return build_model(name, **params)


def prepare(config: Config) -> None:
    """Check the model can be built before a run directory is created."""
    resolve_device(config.device)
    make_model(config)


def evaluate(model: GenerativeModel, test: torch.Tensor, n: int, seed: int) -> dict[str, float]:
    """Held-out MMD of samples and (where defined) mean held-out log-likelihood."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        samples = model.sample(n, generator=generator).cpu().float()
        metrics = {"eval/mmd": mmd(samples, test)}
        if model.log_prob_kind != "none":
            metrics["eval/test_log_likelihood"] = float(
                model.log_prob(test.to(model.device)).mean()
            )
    return metrics


def plot_samples(
    model: GenerativeModel, test: torch.Tensor, path: Any, seed: int, title: str
) -> None:
    """Scatter model samples over held-out data."""
    with torch.no_grad():
        samples = model.sample(len(test), generator=torch.Generator().manual_seed(seed)).cpu()
    figure, axis = plt.subplots(figsize=(5, 5))
    axis.scatter(test[:, 0], test[:, 1], s=3, alpha=0.4, label="data (held out)")
    axis.scatter(samples[:, 0], samples[:, 1], s=3, alpha=0.4, label="samples")
    axis.set_xlim(-3, 3)
    axis.set_ylim(-3, 3)
    axis.set_aspect("equal")
    axis.legend(loc="upper right", markerscale=4)
    axis.set_title(title)
    save_figure(figure, path)


def run(config: Config, run: RunDir) -> dict[str, float]:
    """Fit, evaluate every `eval_every` epochs, checkpoint, plot, summarise."""
    seed_everything(config.seed)
    device = resolve_device(config.device)
    train = toy_data(config.dataset, config.n_train, torch.Generator().manual_seed(config.seed))
    test = toy_data(
        config.dataset, config.n_test, torch.Generator().manual_seed(config.seed + 10_000)
    )
    model = make_model(config).to(device)
    shuffle = torch.Generator().manual_seed(config.seed + 20_000)
    baseline = gaussian_log_likelihood(train, test)

    start = 0
    resumed = run.load_latest_checkpoint()
    if resumed is not None:
        start, state = resumed
        model.load_training_state(state["model"])
        shuffle.set_state(state["shuffle"])
        set_rng_state(state["rng"])

    last: dict[str, float] = {}
    with run.progress() as bar:
        task = bar.add_task(
            f"{config.model.name} on {config.dataset}",
            total=config.epochs,
            completed=start,
            info="",
        )
        for epoch in range(start + 1, config.epochs + 1):
            history = model.fit(train, epochs=1, batch_size=config.batch_size, generator=shuffle)
            metrics = {f"losses/{k}": v[-1] for k, v in history.metrics.items()}
            due = epoch % config.eval_every == 0 or epoch == config.epochs
            if due:
                metrics.update(evaluate(model, test, config.eval_samples, config.seed + epoch))
                last = metrics
            run.log(epoch, metrics)
            bar.update(task, advance=1, info=f"loss {metrics.get('losses/loss', float('nan')):.3f}")
            if due or run.stop_requested:
                state = {
                    "model": model.training_state(),
                    "shuffle": shuffle.get_state(),
                    "rng": rng_state(),
                }
                run.save_checkpoint(epoch, state)
                if run.stop_requested:
                    raise RunInterrupted(epoch)

    model.save(run.checkpoints_dir / "model.safetensors")
    plot_samples(
        model,
        test,
        run.plots_dir / "samples.png",
        config.seed,
        f"{config.model.name} on {config.dataset}",
    )
    rows = run.rows
    line_plot(
        run.plots_dir / "loss.png",
        [int(r["step"]) for r in rows],
        {"loss": [float(r["losses/loss"]) for r in rows]},
        xlabel="epoch",
        ylabel="training loss",
    )
    if not last:  # resumed after the final epoch was already checkpointed
        last = evaluate(model, test, config.eval_samples, config.seed + config.epochs)
    summary = {
        "epochs": config.epochs,
        "mmd": last["eval/mmd"],
        "gaussian_test_log_likelihood": baseline,
    }
    if "eval/test_log_likelihood" in last:
        summary["test_log_likelihood"] = last["eval/test_log_likelihood"]
    return summary
