"""Synthetic data beating none on a fixed seed (slow: two SAC runs of 1,000 real steps).

The benchmark's Pendulum-v1 seed 0 (docs/BENCHMARKS.md#synthetic-experience-vs-sac): at 1,000
real steps the shipped synthetic config evaluated at -161 and the same agent at the same
update-to-data ratio on real data only at -1,048 when the benchmark ran; with 10 % of real
transitions held out of the generator's fit and the fidelity guard on (it kept the share at 0.5:
held-out classifier accuracy 0.57 and 0.59 at the two refits) this test measured -175 and -822
(the real-only run never fits the generator, so its change comes from elsewhere). It is one
seed, chosen because it shows the effect the benchmark measured over five (fewer collapses at
1,000 steps); on seed 2 the real-only agent is ahead at this point. The margin below is wide:
the test guards the mechanism (a learned generator's samples helping the critic), not a
general claim.
Run with `pytest -m slow tests/synthetic/test_learning.py`.
"""

import pytest

from gmrl.core.config import dump_config, load_config
from gmrl.core.rundir import RunDir
from gmrl.recipes import load_recipe, synthetic


def _return_at_1000(tmp_path, ratio: float) -> float:
    config = load_config("configs/synthetic/pendulum.yaml",
                         ["seed=0", "device=cpu", "total_steps=1000", f"synthetic.ratio={ratio}"],
                         lambda name: load_recipe(name).Config)
    run = RunDir.create(tmp_path / f"ratio{ratio}", "synthetic", dump_config(config), quiet=True)
    try:
        return float(synthetic.run(config, run)["final_mean_return"])
    finally:
        run.close()


@pytest.mark.slow
@pytest.mark.parametrize("ratio", [0.5])
def test_synthetic_data_beats_real_only_at_the_same_update_ratio(tmp_path, ratio):
    with_synthetic = _return_at_1000(tmp_path, ratio)
    real_only = _return_at_1000(tmp_path, 0.0)
    assert with_synthetic > -300, with_synthetic
    assert with_synthetic > real_only + 300, (with_synthetic, real_only)
