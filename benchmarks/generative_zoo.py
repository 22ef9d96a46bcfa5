"""Fit the vector models of the zoo to 2-D toy data side by side, over several seeds.

For each model, dataset and seed it records the held-out sample MMD of the trained and the
untrained model, the MMD between two held-out data sets (the noise floor), the held-out
log-likelihood (exact or a bound) and that of a fitted single Gaussian, and the training time.
The settings are those of the learning tests in tests/generative/test_<model>.py, so the tests'
thresholds can be read against these numbers. Writes benchmarks/results/generative_zoo.json.

    nice .venv/bin/python benchmarks/generative_zoo.py --seeds 0 1 2
"""

import argparse
import json
import platform
import statistics
import time

import torch

from gmrl.core.checkpoint import atomic_write_text
from gmrl.generative import build_model
from gmrl.generative.metrics import gaussian_log_likelihood, mmd
from gmrl.generative.toy import DATASETS, toy_data

# The learning tests' settings: constructor params, epochs (2000 points, batch 128).
SETTINGS: dict[str, tuple[dict, int]] = {
    "vae": ({}, 60),
    "gan": ({}, 60),
    "flow": ({}, 40),
    "diffusion": ({}, 100),
}
N_TRAIN, N_TEST, BATCH, N_SAMPLES = 2000, 1000, 128, 1000


def run_one(name: str, dataset: str, seed: int) -> dict[str, float]:
    """Train one model on one data set with one seed; the test protocol, returned as numbers."""
    data_gen = torch.Generator().manual_seed(1000 + seed)
    train, test = toy_data(dataset, N_TRAIN, data_gen), toy_data(dataset, N_TEST, data_gen)
    floor = mmd(toy_data(dataset, N_TEST, data_gen), test)
    params, epochs = SETTINGS[name]
    torch.manual_seed(seed)
    model = build_model(name, data_dim=2, **params)
    sample_seed = torch.Generator().manual_seed(7)
    untrained = mmd(model.sample(N_SAMPLES, generator=sample_seed), test)
    start = time.perf_counter()
    model.fit(train, epochs=epochs, batch_size=BATCH, generator=torch.Generator().manual_seed(seed))
    seconds = time.perf_counter() - start
    result = {
        "mmd": mmd(model.sample(N_SAMPLES, generator=torch.Generator().manual_seed(7)), test),
        "mmd_untrained": untrained,
        "mmd_data_floor": floor,
        "gaussian_log_likelihood": gaussian_log_likelihood(train, test),
        "train_seconds": seconds,
    }
    if model.log_prob_kind != "none":
        with torch.no_grad():
            result["test_log_likelihood"] = float(model.log_prob(test).mean())
    return result


def summarise(runs: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Median, min and max of each metric over seeds."""
    return {
        key: {
            "median": statistics.median(r[key] for r in runs),
            "min": min(r[key] for r in runs),
            "max": max(r[key] for r in runs),
        }
        for key in runs[0]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", default="benchmarks/results/generative_zoo.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results: dict[str, dict] = {}
    for dataset in args.datasets:
        for name in args.models:
            runs = []
            for seed in args.seeds:
                runs.append(run_one(name, dataset, seed))
                print(
                    dataset, name, seed, {k: round(v, 4) for k, v in runs[-1].items()}, flush=True
                )
            results[f"{name}/{dataset}"] = {"seeds": args.seeds, "runs": runs, **summarise(runs)}
    report = {
        "command": "python benchmarks/generative_zoo.py "
        + " ".join(f"--{k} {' '.join(map(str, v))}" for k, v in vars(args).items() if k != "out"),
        "machine": f"{platform.machine()} {platform.processor() or ''} torch {torch.__version__}, "
        "1 thread",
        "settings": {
            "n_train": N_TRAIN,
            "n_test": N_TEST,
            "batch_size": BATCH,
            "n_samples": N_SAMPLES,
            "models": SETTINGS,
        },
        "results": results,
    }
    atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
