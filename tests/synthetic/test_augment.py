"""gmrl.synthetic.augment: a dynamics MLP fitted on real (+ synthetic) transitions, scored on
held-out real transitions."""

import dataclasses
import math

import numpy as np
import pytest

from gmrl.core.errors import DataError, EnvError
from gmrl.synthetic.augment import (
    DynamicsConfig,
    augmentation_errors,
    inputs_and_targets,
    random_policy_transitions,
)
from gmrl.synthetic.config import TransitionModelConfig

SMALL_GENERATOR = TransitionModelConfig(name="vae", first_fit_steps=150, batch_size=64)
SMALL_DYNAMICS = DynamicsConfig(hidden=32, layers=2, steps=300, batch_size=64)


@pytest.fixture(scope="module")
def pendulum():
    layout, real = random_policy_transitions("Pendulum-v1", 80, seed=0)
    _, held_out = random_policy_transitions("Pendulum-v1", 300, seed=1000)
    return layout, real, held_out


def errors(pendulum, *, held_out=None, seed=0, multiples=(0, 1, 3)):
    layout, real, default_held_out = pendulum
    return augmentation_errors(
        layout, real, default_held_out if held_out is None else held_out, multiples=multiples,
        generator=SMALL_GENERATOR, dynamics=SMALL_DYNAMICS, seed=seed,
    )


@pytest.fixture(scope="module")
def base(pendulum):
    return errors(pendulum)


def test_inputs_and_targets_are_obs_action_to_delta_and_reward(pendulum) -> None:
    layout, real, _ = pendulum
    x, y = inputs_and_targets(layout, layout.encode(real))
    assert x.shape == (80, 4) and y.shape == (80, 4)  # 3 obs + 1 action; 3 deltas + reward
    np.testing.assert_allclose(x[:, :3], real.observations)
    np.testing.assert_allclose(y[:, :3], real.next_observations - real.observations, atol=1e-6)
    np.testing.assert_allclose(y[:, 3], real.rewards)


def test_one_result_per_multiple_with_finite_errors(base) -> None:
    results = base
    assert sorted(results) == [0, 1, 3]
    for multiple, result in results.items():
        assert result.n_real == 80 and result.n_synthetic == 80 * multiple
        assert len(result.delta_mse_per_dim) == 3
        values = [result.delta_mse, result.reward_mse, result.normalised_mse,
                  *result.delta_mse_per_dim]
        assert all(math.isfinite(v) and v >= 0 for v in values)
        assert result.delta_mse == pytest.approx(np.mean(result.delta_mse_per_dim))


def test_deterministic_given_the_seed(pendulum, base) -> None:
    again, other = errors(pendulum), errors(pendulum, seed=1, multiples=(1,))
    assert [dataclasses.astuple(r)[:-1] for r in base.values()] == [
        dataclasses.astuple(r)[:-1] for r in again.values()  # all but the fit's wall-clock
    ]
    assert base[1].normalised_mse != other[1].normalised_mse


def test_errors_are_measured_on_held_out_data_only(pendulum, base) -> None:
    """Shifting the held-out rewards changes the reward error but not the fitted model: the
    delta errors (the same network's other outputs) stay identical."""
    _, _, held_out = pendulum
    shifted = dataclasses.replace(held_out, rewards=held_out.rewards + 5.0)
    moved = errors(pendulum, held_out=shifted)
    for k in (0, 1, 3):
        assert moved[k].delta_mse_per_dim == base[k].delta_mse_per_dim
        assert moved[k].reward_mse > base[k].reward_mse + 10  # about 25 more: the shift squared


def test_the_dynamics_model_learns_from_real_data(base) -> None:
    """80 random-policy transitions: far better than predicting the held-out mean (1.0)."""
    assert base[0].normalised_mse < 0.2


def test_bad_inputs_are_one_line_errors(pendulum) -> None:
    layout, real, held_out = pendulum
    with pytest.raises(DataError, match="multiples must be >= 0"):
        augmentation_errors(layout, real, held_out, multiples=(-1,))
    with pytest.raises(EnvError, match="NoSuchEnv-v0"):
        random_policy_transitions("NoSuchEnv-v0", 10, seed=0)
