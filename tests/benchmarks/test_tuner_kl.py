"""The tuner benchmark's report logic: medians per variant, attractor and KL-guard counts."""

import pytest

from . import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("tuner_kl")


def _run(variant: str, seed: int, reward: float, unique: float, attractor: float) -> dict:
    summary = {"pretrained/reward": 0.14, "pretrained/unique": 1.0,
               "pretrained/token_entropy": 1.98, "tuned/reward": reward, "tuned/unique": unique,
               "tuned/token_entropy": 1.9 if unique > 0.9 else 0.8, "tuned/attractor": attractor,
               "tune/kl": 0.4 if unique > 0.9 else 25.0,
               "stopped_early": 0.0 if unique > 0.9 else 1.0}
    return {"variant": variant, "seed": seed, "summary": summary}


def test_aggregate_and_markdown_put_reward_beside_diversity(bench):
    shipped, weak = "rloo (beta 0.1, shipped)", "rloo, beta 0.01"
    runs = [_run(shipped, 0, 0.21, 0.999, 0.0), _run(shipped, 1, 0.25, 0.99, 0.0),
            _run(shipped, 2, 0.23, 0.995, 0.0), _run(weak, 0, 0.74, 0.46, 1.0),
            _run(weak, 1, 0.70, 0.50, 1.0)]
    table = bench.aggregate(runs)
    assert list(table) == [shipped, weak]  # the variants' order, not the runs'
    assert table[shipped]["tuned/reward"] == {"median": 0.23, "min": 0.21, "max": 0.25}
    assert table[shipped]["attractor_seeds"] == 0 and table[weak]["attractor_seeds"] == 2
    assert table[weak]["stopped_early"] == 2 and table[weak]["seeds"] == 2
    text = bench.markdown(table)
    assert "| pre-trained model | 0.140 |" in text
    assert "| rloo, beta 0.01 | 0.720 [0.700, 0.740] | 25.00 |" in text
    assert "| 2/2 |" in text
