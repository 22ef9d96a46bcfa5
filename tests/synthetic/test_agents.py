"""`SyntheticReplayBuffer` under each off-policy Stable-Baselines3 agent (SAC, TD3 on Box
actions; DQN on Discrete ones), trained through the `synthetic` recipe as a user runs it."""

import csv
import json
import math

import numpy as np
import pytest
import torch
from gymnasium import spaces

from gmrl.core.checkpoint import load_tensors
from gmrl.core.config import dump_config, validate_config
from gmrl.core.rundir import RunDir
from gmrl.recipes import synthetic
from gmrl.synthetic import SyntheticReplayBuffer

TINY_GENERATOR = {"fit_steps": 10, "first_fit_steps": 20, "batch_size": 32,
                  "params": {"hidden": 16, "layers": 1, "timesteps": 8}}
AGENTS = {
    "sac": ("Pendulum-v1", {}),
    "td3": ("Pendulum-v1", {}),
    "dqn": ("CartPole-v1", {"target_update_interval": 50, "exploration_fraction": 0.5}),
}


@pytest.mark.parametrize("algo", sorted(AGENTS))
def test_each_off_policy_agent_trains_on_synthetic_rows(tmp_path, algo):
    env, params = AGENTS[algo]
    config = validate_config(synthetic.Config, {
        "recipe": "synthetic", "algo": algo, "env": env, "total_steps": 240, "eval_every": 120,
        "eval_episodes": 1, "utd": 2, "device": "cpu",
        "params": {"learning_starts": 40, "batch_size": 32, "policy_kwargs": {"net_arch": [16]},
                   **params},
        "synthetic": {"min_real": 60, "refit_every": 60, "pool_size": 256,
                      "fidelity_samples": 32, "generator": TINY_GENERATOR},
    }, "test")
    synthetic.prepare(config)  # as `gmrl run` does: env, algo/space match, buffer settings
    run = RunDir.create(tmp_path, "synthetic", dump_config(config), quiet=True)
    try:
        summary = synthetic.run(config, run)
    finally:
        run.close()
    run.write_summary(summary)

    assert summary["env_steps"] == 240
    assert summary["synthetic_refits"] == 4  # at 60, 120, 180, 240 real steps
    # `sample` is called by the agent's gradient steps only: 2 per step from step 40 on, 16
    # synthetic rows of 32 each once the pool exists (from step 60)
    assert summary["synthetic_rows_sampled"] >= 16 * 2 * (240 - 60)
    assert summary["synthetic_share"] == 0.5  # 6 held-out rows: too few for a guard verdict
    assert math.isfinite(summary["final_mean_return"])
    assert json.loads((run.path / "summary.json").read_text())["synthetic_refits"] == 4

    with (run.path / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    values = [float(value) for row in rows for value in row.values() if value]
    assert values and all(math.isfinite(value) for value in values)
    refits = [row for row in rows if row.get("synthetic/refits")]
    assert len(refits) == 4 and all(row["synthetic/share"] for row in refits)
    # the trained agent (every network updated on mixed batches) holds no NaN/inf
    tensors, _ = load_tensors(run.path / "agent.safetensors")
    assert tensors and all(bool(torch.isfinite(t).all()) for t in tensors.values())


def test_discrete_actions_come_back_as_valid_indices():
    """DQN gathers Q-values at `actions.long()`: synthetic rows must carry whole action
    indices within the space, shaped like the real ones."""
    obs_space = spaces.Box(-5.0, 5.0, (4,), np.float32)
    buffer = SyntheticReplayBuffer(500, obs_space, spaces.Discrete(3), device="cpu",
                                   min_real=100, refit_every=1000, pool_size=300,
                                   fidelity_samples=32, generator=TINY_GENERATOR)
    rng = np.random.default_rng(0)
    for _ in range(100):
        obs = rng.normal(size=(1, 4)).astype(np.float32)
        buffer.add(obs, obs + 0.1, np.array([[rng.integers(3)]]), np.array([1.0]),
                   np.array([False]), [{}])
    assert buffer.pool is not None
    np.random.seed(0)
    batch = buffer.sample(64)
    assert batch.actions.shape == (64, 1)
    actions = batch.actions.numpy()
    assert set(np.unique(actions)) <= {0.0, 1.0, 2.0}
    assert buffer.synthetic_rows_sampled == 32
