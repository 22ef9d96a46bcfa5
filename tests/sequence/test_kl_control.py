"""KL controllers: fixed stays put, adaptive moves beta toward the target at a bounded rate."""

import pytest

from gmrl.sequence.kl_control import AdaptiveKLController, FixedKLController


def test_fixed_controller_never_changes() -> None:
    controller = FixedKLController(0.3)
    controller.update(100.0, 64)
    assert controller.beta == 0.3


def test_adaptive_controller_raises_beta_above_target_and_lowers_it_below() -> None:
    controller = AdaptiveKLController(0.1, target=1.0, horizon=100)
    controller.update(10.0, 50)  # error clipped at +20%, scaled by 50/100
    assert controller.beta == pytest.approx(0.1 * 1.1)
    controller.update(0.0, 50)
    assert controller.beta == pytest.approx(0.1 * 1.1 * 0.9)
    controller.update(1.0, 50)  # on target: unchanged
    assert controller.beta == pytest.approx(0.1 * 1.1 * 0.9)
    with pytest.raises(ValueError):
        AdaptiveKLController(0.1, target=0.0)


def test_adaptive_controller_with_a_floor_never_goes_below_it() -> None:
    controller = AdaptiveKLController(0.4, target=10.0, horizon=64, min_beta=0.4)
    controller.update(0.0, 64)  # far under target: would fall by 20 %
    assert controller.beta == pytest.approx(0.4)
    controller.update(100.0, 64)  # over: rises by the clipped 20 %
    assert controller.beta == pytest.approx(0.48)
    controller.update(0.0, 64)  # under again: falls, but stops at the floor
    assert controller.beta == pytest.approx(0.4)
