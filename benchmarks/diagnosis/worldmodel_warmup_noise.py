"""How often random warm-up actions reach MountainCarContinuous-v0's flag: white vs colored noise.

The world-model agent's first `initial_steps` steps are random; a goal they never reach is
absent from the first model's data. For noise exponents 0 (white: uniform actions), 1 (pink)
and 2 (red, the default config's `noise_beta`), 20 seeded runs of 200 and of 1,000 steps each
(one episode, actions clipped to the bounds as the agent does) count how many reach the flag.
Writes benchmarks/results/worldmodel_suite/warmup_noise.json.

    python benchmarks/diagnosis/worldmodel_warmup_noise.py        # about 1 minute
"""

import json
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from gmrl.worldmodel.planners import colored_noise

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the scripts used below
from worldmodel_suite import RESULTS

RUNS = 20


def reaches_flag(beta: float, steps: int, seed: int) -> bool:
    env = gym.make("MountainCarContinuous-v0")
    env.reset(seed=seed)
    if beta == 0:
        actions = np.random.default_rng(seed).uniform(-1, 1, steps)
    else:
        generator = torch.Generator().manual_seed(seed)
        actions = colored_noise((1,), steps, beta, generator)[0].clamp(-1, 1).numpy()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(np.array([action], dtype=np.float32))
        if terminated or truncated:
            return bool(terminated)
    return False


def main() -> None:
    results = {}
    for beta in (0.0, 1.0, 2.0):
        for steps in (200, 1000):
            hits = sum(reaches_flag(beta, steps, seed) for seed in range(RUNS))
            results[f"beta={beta:g} steps={steps}"] = {"reached": hits, "runs": RUNS}
            print(f"noise exponent {beta:g}, {steps} steps: {hits}/{RUNS} reach the flag")
    out = RESULTS / "worldmodel_suite" / "warmup_noise.json"
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
