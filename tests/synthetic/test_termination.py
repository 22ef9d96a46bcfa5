"""Termination labels for generated transitions: learned from the real ones, class-balanced."""

import numpy as np
from gymnasium import spaces

from gmrl.synthetic import TransitionLayout, Transitions
from gmrl.synthetic.termination import TerminationLabeller

LAYOUT = TransitionLayout(spaces.Box(-np.inf, np.inf, (2,), np.float32),
                          spaces.Box(-1.0, 1.0, (1,), np.float32))


def _transitions(n: int, seed: int) -> Transitions:
    """A pole-like task: the episode ends when |next angle| > 0.2 (about 10% of the steps)."""
    rng = np.random.default_rng(seed)
    obs = rng.normal(0, 0.12, (n, 2)).astype(np.float32)
    actions = rng.uniform(-1, 1, (n, 1)).astype(np.float32)
    next_obs = obs + np.concatenate([0.02 * actions, rng.normal(0, 0.01, (n, 1))], axis=1)
    terminated = (np.abs(next_obs[:, 0]) > 0.2).astype(np.float32)
    return Transitions(obs, actions, np.ones(n, np.float32), next_obs.astype(np.float32),
                       terminated)


def test_the_classifier_recovers_a_rare_termination_rule_on_new_transitions():
    real = _transitions(2000, 0)
    labeller = TerminationLabeller(LAYOUT, seed=0)
    fitted = labeller.fit(LAYOUT.encode(real))
    assert 0.02 < fitted["terminal_fraction"] < 0.2
    fresh = _transitions(2000, 1)
    truth = fresh.terminated.copy()
    fresh.terminated = np.random.default_rng(2).random(2000).round().astype(np.float32)  # noise
    labelled = labeller.relabel(fresh).terminated
    assert set(np.unique(labelled)) <= {0.0, 1.0}
    recall_terminal = (labelled[truth == 1] == 1).mean()
    recall_other = (labelled[truth == 0] == 0).mean()
    assert recall_terminal > 0.85 and recall_other > 0.95  # balanced: rare class not ignored


def test_without_real_terminations_nothing_generated_terminates():
    real = _transitions(300, 0)
    real.terminated[:] = 0
    labeller = TerminationLabeller(LAYOUT, seed=0)
    labeller.fit(LAYOUT.encode(real))
    fresh = _transitions(100, 1)
    fresh.terminated[:] = 1
    assert labeller.relabel(fresh).terminated.sum() == 0


def test_labels_are_deterministic_for_a_seed():
    rows = LAYOUT.encode(_transitions(500, 0))
    first, second = TerminationLabeller(LAYOUT, seed=3), TerminationLabeller(LAYOUT, seed=3)
    first.fit(rows)
    second.fit(rows)
    fresh = _transitions(300, 4)
    np.testing.assert_array_equal(first.relabel(fresh).terminated,
                                  second.relabel(_transitions(300, 4)).terminated)
