"""The examples/ scripts run end to end (tiny budgets) and print their result lines."""

import math
import re
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_synthetic_sac_refits_its_generator_and_evaluates() -> None:
    out = run_example("synthetic_sac.py", "--steps", "200", "--generator", "vae",
                      "--generator-steps", "50", "--eval-episodes", "2")
    found = re.search(r"eval return \(2 episodes, after 200 real steps\): (-?[\d.]+)", out)
    assert found, out
    assert -2000 < float(found.group(1)) <= 0  # Pendulum returns lie in [-16.3 * 200, 0]
    refits = re.search(r"'synthetic_refits': (\d+)\.0", out)
    assert refits and int(refits.group(1)) >= 2, out  # min_real reached, then refit on schedule
    accuracy = re.search(r"'synthetic_classifier_accuracy': ([\d.]+)", out)
    assert accuracy and 0.0 <= float(accuracy.group(1)) <= 1.0, out


def test_ppo_in_dream_from_vae_compares_with_a_random_policy() -> None:
    out = run_example("ppo_in_dream_from_vae.py", "--steps", "300", "--dream-steps", "2048")
    found = re.search(r"PPO trained in the dream ([\d.]+), random policy ([\d.]+)", out)
    assert found, out
    ppo, random_policy = float(found.group(1)), float(found.group(2))
    assert 1 <= ppo <= 500 and 1 <= random_policy <= 500  # CartPole-v1 episode returns
    mse = re.search(r"held-out next-state MSE ([\d.e+-]+)", out)
    assert mse and math.isfinite(float(mse.group(1))), out
