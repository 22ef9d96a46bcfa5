"""Transitions as flat rows and back: columns, one-hot actions, bounds and terminal flags."""

import numpy as np
import pytest
from gymnasium import spaces

from gmrl.core.errors import ConfigError
from gmrl.synthetic import TransitionLayout, Transitions

BOX_OBS = spaces.Box(low=np.array([-1.0, -1.0, -8.0], np.float32),
                     high=np.array([1.0, 1.0, 8.0], np.float32))


def _batch(n: int, actions: np.ndarray, rng: np.random.Generator) -> Transitions:
    return Transitions(
        observations=rng.uniform(-1, 1, (n, 3)).astype(np.float32),
        actions=actions.astype(np.float32),
        rewards=rng.normal(size=n).astype(np.float32),
        next_observations=rng.uniform(-1, 1, (n, 3)).astype(np.float32),
        terminated=(rng.random(n) < 0.3).astype(np.float32),
    )


def test_box_transitions_round_trip_exactly():
    rng = np.random.default_rng(0)
    layout = TransitionLayout(BOX_OBS, spaces.Box(-2, 2, (2,)), action_bounds=(-1, 1))
    batch = _batch(50, rng.uniform(-1, 1, (50, 2)), rng)
    rows = layout.encode(batch)
    assert rows.shape == (50, layout.width) == (50, 3 + 2 + 1 + 3 + 1)
    decoded, report = layout.decode(rows)
    for name in ("observations", "actions", "rewards", "next_observations", "terminated"):
        np.testing.assert_allclose(getattr(decoded, name), getattr(batch, name), rtol=1e-6)
    assert report.clipped_rows == report.dropped_nonfinite == 0


def test_discrete_actions_are_one_hot_and_come_back_as_indices():
    rng = np.random.default_rng(1)
    layout = TransitionLayout(BOX_OBS, spaces.Discrete(4))
    actions = rng.integers(0, 4, (20, 1))
    rows = layout.encode(_batch(20, actions, rng))
    one_hot = rows[:, layout.action_slice]
    assert one_hot.shape == (20, 4) and (one_hot.sum(1) == 1).all()
    noisy = rows + rng.normal(0, 0.05, rows.shape)  # a generator's output is never exact
    decoded, _ = layout.decode(noisy)
    np.testing.assert_array_equal(decoded.actions.reshape(-1), actions.reshape(-1))


def test_generated_rows_are_clipped_into_bounds_and_terminal_flags_rounded():
    layout = TransitionLayout(BOX_OBS, spaces.Box(-2, 2, (1,)), action_bounds=(-1, 1))
    rows = np.array([
        [0.5, -0.2, 3.0, 0.4, -1.0, 0.1, 0.2, 1.0, 0.7],     # inside; terminated 0.7 -> 1
        [1.3, -0.2, 9.5, -1.6, -1.0, 0.1, -2.0, 1.0, -0.4],  # obs, action and next obs outside
        [np.nan, 0, 0, 0, 0, 0, 0, 0, 0],                    # non-finite: dropped
    ])
    decoded, report = layout.decode(rows)
    assert len(decoded) == 2 and report.dropped_nonfinite == 1 and report.clipped_rows == 1
    assert report.out_of_bounds_fraction == pytest.approx(1 / 3)
    np.testing.assert_allclose(decoded.observations[1], [1.0, -0.2, 8.0])
    np.testing.assert_allclose(decoded.actions[1], [-1.0])
    np.testing.assert_allclose(decoded.next_observations[1], [0.1, -1.0, 1.0])
    np.testing.assert_array_equal(decoded.terminated, [1.0, 0.0])


def test_unbounded_observations_are_left_alone():
    layout = TransitionLayout(spaces.Box(-np.inf, np.inf, (2,)), spaces.Discrete(2))
    rows = np.array([[1e6, -1e6, 1.0, 0.0, 0.0, 1e6, 2.0, 0.0]])
    decoded, report = layout.decode(rows)
    assert report.clipped_rows == 0
    np.testing.assert_allclose(decoded.observations[0], [1e6, -1e6])


@pytest.mark.parametrize(("obs", "action"), [
    (spaces.Discrete(5), spaces.Discrete(2)),
    (spaces.Box(-1, 1, (2,)), spaces.MultiDiscrete([2, 2])),
])
def test_unsupported_spaces_are_one_line_config_errors(obs, action):
    with pytest.raises(ConfigError) as error:
        TransitionLayout(obs, action)
    assert "\n" not in str(error.value)
