"""Recipe `generative`: fit any zoo model to a 2-D toy distribution and plot samples over data.

Every `eval_every` epochs it logs the sample-to-data MMD on held-out data and, for models with a
likelihood, the held-out log-likelihood (exact or a bound) beside a fitted single Gaussian's.
Checkpoints hold the model, its optimizers and every RNG, so a resumed run matches an
uninterrupted one exactly.
"""

import math
from typing import Any, Literal

import torch
from pydantic import Field, field_validator

from gmrl.core.config import RecipeConfig, StrictModel
from gmrl.core.device import resolve_device
from gmrl.core.errors import ConfigError
from gmrl.core.loop import TrainingLoop
from gmrl.core.plots import line_plot, plt, save_figure
from gmrl.core.rundir import RunDir
from gmrl.core.seeding import derive_seed, seed_everything, torch_generator
from gmrl.generative import MODEL_REGISTRY, GenerativeModel, build_model
from gmrl.generative.metrics import gaussian_log_likelihood, mmd
from gmrl.generative.toy import toy_data

SUMMARY = "fit a zoo model (vae, gan, flow, diffusion, autoregressive) to 2-D toy data"


class ModelSection(StrictModel):
    """Which zoo model to fit and its constructor parameters (data_dim is set for you)."""

    name: str = Field("flow", description="a name from `gmrl list` (generative models)")
    params: dict[str, Any] = Field(default_factory=dict, description="constructor keywords")

    @field_validator("params")
    @classmethod
    def _finite_numbers(cls, params: dict[str, Any]) -> dict[str, Any]:
        """Refuse NaN/inf anywhere and non-positive learning rates (they would train nothing)."""
        for key, value in params.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"params.{key} must be a finite number, got {value}")
            if key == "lr" or key.endswith("_lr"):
                number = isinstance(value, (int, float)) and not isinstance(value, bool)
                if not (number and math.isfinite(value) and value > 0):
                    raise ValueError(
                        f"learning rate params.{key} must be a finite number > 0, got {value!r}"
                    )
        return params


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


def quick_overrides(config: Config) -> list[str]:
    """`gmrl run ... --quick`: this run at a budget that ends within a minute on a CPU."""
    epochs = min(config.epochs, 5)
    return [f"epochs={epochs}", f"eval_every={min(config.eval_every, epochs)}",
            f"n_train={min(config.n_train, 1000)}", f"eval_samples={min(config.eval_samples, 500)}"]


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
    train = toy_data(config.dataset, config.n_train, torch_generator(config.seed, "train_data"))
    test = toy_data(config.dataset, config.n_test, torch_generator(config.seed, "test_data"))
    model = make_model(config).to(device)
    shuffle = torch_generator(config.seed, "shuffle")
    baseline = gaussian_log_likelihood(train, test)
    last: dict[str, float] = {}

    def state() -> dict[str, Any]:
        return {"model": model.training_state(), "shuffle": shuffle.get_state(), "last": last}

    def restore(saved: dict[str, Any]) -> None:
        model.load_training_state(saved["model"])
        shuffle.set_state(saved["shuffle"])
        last.update(saved["last"])

    loop = TrainingLoop(
        run, total=config.epochs, description=f"{config.model.name} on {config.dataset}",
        state=state, restore=restore, eval_every=config.eval_every,
    )
    start = loop.resume()
    with loop:
        for epoch in range(start + 1, config.epochs + 1):
            history = model.fit(train, epochs=1, batch_size=config.batch_size, generator=shuffle)
            metrics = {f"losses/{k}": v[-1] for k, v in history.metrics.items()}
            if loop.eval_due(epoch):
                eval_seed = derive_seed(config.seed, f"eval_samples/{epoch}")
                last.clear()
                last.update(evaluate(model, test, config.eval_samples, eval_seed))
                metrics.update(last)
            info = f"loss {metrics.get('losses/loss', float('nan')):.3f}"
            loop.end_step(epoch, metrics, info=info)

    model.save(run.checkpoints_dir / "model.safetensors")
    plot_samples(
        model,
        test,
        run.plots_dir / "samples.png",
        derive_seed(config.seed, "plot_samples"),
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
    summary = {
        "epochs": config.epochs,
        "mmd": last["eval/mmd"],
        "gaussian_test_log_likelihood": baseline,
    }
    if "eval/test_log_likelihood" in last:
        summary["test_log_likelihood"] = last["eval/test_log_likelihood"]
    return summary
