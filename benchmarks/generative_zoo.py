"""Fit the vector models of the zoo to 2-D toy data side by side, over several seeds.

A function grid on the benchmark harness (`gmrl.bench.harness`): one variant per model and
data set ("flow/two_moons"), one cell per variant and seed, each recording the held-out sample
MMD of the trained and the untrained model, the MMD between two held-out data sets (the noise
floor), the held-out log-likelihood (exact or a bound) and that of a fitted single Gaussian, and
the training time. The model settings are those of the learning tests in
tests/generative/test_<model>.py, so the tests' thresholds can be read against these numbers.
Seeds: the harness seeds the model's initial weights with the cell's seed
(`seed_everything`); data, samples and batches come from `torch_generator(seed, purpose)`.

Cells run on Ray (one CPU and one torch thread each; `--workers 1`: serially), are appended to
benchmarks/results/generative_zoo.cells.jsonl (a rerun skips them), and the summary, with
`results` (per "model/data": median [min, max] over seeds of each metric and every seed's
numbers), goes to benchmarks/results/generative_zoo.json.

    gmrl bench generative_zoo --seeds 3
    nice .venv/bin/python benchmarks/generative_zoo.py --seeds 3 --workers 1
    python benchmarks/generative_zoo.py --variants 'flow/*' --seeds 1
    python benchmarks/generative_zoo.py --quick --out benchmarks/results/quick/generative_zoo.json
"""

from dataclasses import replace
from pathlib import Path
from typing import Any

from gmrl.bench.grid import FunctionGrid, Variant
from gmrl.bench.harness import main, script_function
from gmrl.bench.summary import latest, numeric, stats
from gmrl.bench.tables import generative_zoo

RESULTS = Path(__file__).resolve().parent / "results" / "generative_zoo.json"
# The learning tests' settings: constructor params, epochs (2000 points, batch 128).
SETTINGS: dict[str, tuple[dict, int]] = {
    "vae": ({}, 60),
    "gan": ({}, 60),
    "flow": ({}, 40),
    "diffusion": ({}, 100),
}
DATASETS = ("two_moons", "eight_gaussians", "checkerboard")
N_TRAIN, N_TEST, BATCH, N_SAMPLES = 2000, 1000, 128, 1000


def run_one(settings: dict[str, Any], seed: int) -> dict[str, float]:
    """Train one model on one data set with one seed; the test protocol, returned as numbers."""
    import time

    import torch

    from gmrl.core.seeding import torch_generator
    from gmrl.generative import build_model
    from gmrl.generative.metrics import gaussian_log_likelihood, mmd
    from gmrl.generative.toy import toy_data

    dataset = settings["dataset"]
    train = toy_data(dataset, settings["n_train"], torch_generator(seed, "train_data"))
    test = toy_data(dataset, settings["n_test"], torch_generator(seed, "test_data"))
    floor = mmd(toy_data(dataset, settings["n_test"], torch_generator(seed, "floor_data")), test)
    model = build_model(settings["model"], data_dim=2, **settings["params"])
    n = settings["n_samples"]
    # the same sample noise before and after training
    untrained = mmd(model.sample(n, generator=torch_generator(seed, "samples")), test)
    start = time.perf_counter()
    model.fit(train, epochs=settings["epochs"], batch_size=settings["batch_size"],
              generator=torch_generator(seed, "batches"))
    seconds = time.perf_counter() - start
    result = {
        "mmd": mmd(model.sample(n, generator=torch_generator(seed, "samples")), test),
        "mmd_untrained": untrained,
        "mmd_data_floor": floor,
        "gaussian_log_likelihood": gaussian_log_likelihood(train, test),
        "train_seconds": seconds,
    }
    if model.log_prob_kind != "none":
        with torch.no_grad():
            result["test_log_likelihood"] = float(model.log_prob(test).mean())
    return result


def _variant(model: str, dataset: str) -> Variant:
    params, epochs = SETTINGS[model]
    return Variant(f"{model}/{dataset}", {
        "model": model, "dataset": dataset, "params": params, "epochs": epochs,
        "n_train": N_TRAIN, "n_test": N_TEST, "batch_size": BATCH, "n_samples": N_SAMPLES})


GRID = FunctionGrid(
    name="generative_zoo",
    description="VAE, GAN, flow, DDPM on 2-D toy data: held-out MMD trained vs untrained, "
    "log-likelihood vs a fitted Gaussian",
    function=script_function(__file__, "run_one"),
    variants=tuple(_variant(m, d) for d in DATASETS for m in SETTINGS),
    seeds=(0, 1, 2),
    show=("mmd", "mmd_untrained", "test_log_likelihood"),
)
QUICK = replace(GRID, seeds=(0,))


def results(grid: FunctionGrid, out: Path, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The pre-harness script's `settings` and `results` ({"model/data": {"seeds", "runs",
    metric: median [min, max]}}), which tables and the headline read."""
    rows: dict[str, Any] = {}
    for variant in grid.variants:
        mine = [r for r in latest(records, grid) if r["variant"] == variant.name]
        if mine:
            runs = [numeric(r["metrics"]) for r in mine]
            rows[variant.name] = {"seeds": [r["seed"] for r in mine], "runs": runs,
                                  **{k: stats(run.get(k) for run in runs) for k in runs[0]}}
    return {"settings": {"n_train": N_TRAIN, "n_test": N_TEST, "batch_size": BATCH,
                         "n_samples": N_SAMPLES, "models": SETTINGS},
            "results": rows}


def tables(summary: dict[str, Any]) -> list[str]:
    return ["", *generative_zoo(summary, "")]


if __name__ == "__main__":
    raise SystemExit(main(GRID, quick=QUICK, default_out=RESULTS, extend=results, tables=tables))
