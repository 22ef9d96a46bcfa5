"""The fidelity guard: a generator whose samples a classifier tells from held-out real ones loses
its share of the batch, a faithful one keeps it, the share comes back as fidelity recovers,
survives a checkpoint, and is what `sample` really uses; fidelity is scored on held-out rows."""

import numpy as np
import pytest
import torch

from gmrl.core.checkpoint import load_state, save_state
from gmrl.core.errors import ConfigError
from gmrl.synthetic import SyntheticReplayBuffer
from gmrl.synthetic.config import FidelityGuardConfig
from gmrl.synthetic.guard import MIN_VERDICT_ROWS, next_share
from gmrl.synthetic.layout import DecodeReport, Transitions

from .test_buffer import ACT, OBS, _fill, _real_rows

# half the slots held out: 64 held-out rows at the first fit, enough for a verdict
GUARDED = {"min_real": 128, "refit_every": 64, "pool_size": 512, "fidelity_samples": 64,
           "fidelity_holdout": 0.5, "ratio": 0.5,
           "generator": {"fit_steps": 0, "first_fit_steps": 0, "batch_size": 64,
                         "params": {"hidden": 16, "layers": 1, "timesteps": 8}}}


def _pendulum_like(n: int, rng: np.random.Generator) -> Transitions:
    """Fresh draws from the process `_fill` stores: what a perfect generator would produce."""
    angle, speed = rng.uniform(-np.pi, np.pi, n), rng.uniform(-8, 8, n)
    obs = np.stack([np.cos(angle), np.sin(angle), speed], axis=1).astype(np.float32)
    next_obs = np.clip(obs + rng.normal(0, 0.05, obs.shape), OBS.low, OBS.high)
    return Transitions(observations=obs, actions=rng.uniform(-1, 1, (n, 1)).astype(np.float32),
                       rewards=(-(angle**2)).astype(np.float32),
                       next_observations=next_obs.astype(np.float32),
                       terminated=np.zeros(n, np.float32))


def _garbage(n: int, rng: np.random.Generator) -> Transitions:
    """Rows inside the spaces but from no real transition: positive rewards (real ones are
    <= 0), next states unrelated to the states."""
    batch = _pendulum_like(n, rng)
    batch.rewards = rng.uniform(2, 10, n).astype(np.float32)
    batch.next_observations = _pendulum_like(n, rng).observations
    return batch


class _Stub:
    """Stands in for `TransitionGenerator.generate`: faithful or garbage, switchable."""

    def __init__(self, faithful: bool) -> None:
        self.faithful = faithful
        self.rng = np.random.default_rng(123)

    def __call__(self, n: int) -> tuple[Transitions, DecodeReport]:
        make = _pendulum_like if self.faithful else _garbage
        return make(n, self.rng), DecodeReport(rows=n, dropped_nonfinite=0, clipped_rows=0)


def _guarded(stub: _Stub | None = None, **kwargs) -> SyntheticReplayBuffer:
    buffer = SyntheticReplayBuffer(4000, OBS, ACT, device="cpu", **{**GUARDED, **kwargs})
    if stub is not None:
        buffer.generator.generate = stub  # type: ignore[method-assign]
    return buffer


def _refits(buffer: SyntheticReplayBuffer, count: int, seed: int) -> list[dict[str, float]]:
    """Add real steps until `count` more refits happened; the metrics of each."""
    metrics = []
    for index in range(count):
        before = buffer.generator.refits
        _fill(buffer, GUARDED["refit_every"] if buffer.generator.fitted else GUARDED["min_real"],
              seed=seed + index)
        assert buffer.generator.refits == before + 1
        metrics.append(buffer.pop_metrics())
    return metrics


# --------------------------------------------------------------------------- the rule itself
def test_next_share_cuts_by_backoff_snaps_to_zero_and_recovers_in_steps():
    config = FidelityGuardConfig()  # threshold 0.85, halve, floor 0, recover 1/4 of the ratio
    share, shares = 0.5, []
    for _ in range(7):
        share = next_share(share, 0.5, 0.99, 100, config)
        shares.append(share)
    assert shares == [0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0, 0.0]  # 0.0078 snaps to 0
    for expected in (0.125, 0.25, 0.375, 0.5, 0.5):
        share = next_share(share, 0.5, 0.6, 100, config)
        assert share == pytest.approx(expected)


def test_next_share_holds_without_a_verdict_and_respects_floor_and_switch():
    config = FidelityGuardConfig()
    assert next_share(0.25, 0.5, 0.99, MIN_VERDICT_ROWS - 1, config) == 0.25  # too few rows
    assert next_share(0.25, 0.5, float("nan"), 500, config) == 0.25  # fidelity off
    floor = FidelityGuardConfig(min_share=0.2)
    assert next_share(0.25, 0.5, 0.99, 500, floor) == 0.2
    assert next_share(0.25, 0.5, 0.99, 500, FidelityGuardConfig(enabled=False)) == 0.5
    drop = FidelityGuardConfig(backoff=0.0)
    assert next_share(0.5, 0.5, 0.9, 500, drop) == 0.0


# --------------------------------------------------------------------------- in the buffer
def test_fidelity_is_scored_on_held_out_rows_the_generator_never_saw():
    buffer = _guarded(_Stub(faithful=True))
    seen: list[np.ndarray] = []
    fit = buffer.generator.refit

    def recording_fit(rows: np.ndarray) -> dict[str, float]:
        seen.append(np.asarray(rows))
        return fit(rows)

    buffer.generator.refit = recording_fit  # type: ignore[method-assign]
    metrics = _refits(buffer, 1, seed=0)[0]
    held = buffer.held_out()
    assert 0.4 < held.mean() < 0.6 and len(held) == 128
    rows = buffer.layout.encode(buffer.real_transitions())
    fitted = {tuple(row) for row in seen[0]}
    assert len(seen[0]) == (~held).sum()
    assert not any(tuple(row) in fitted for row in rows[held])
    assert metrics["synthetic/fidelity_rows"] == 64 and metrics["synthetic/real_transitions"] == 64
    # the held-out slots are a function of the seed: a rebuilt buffer holds out the same ones
    np.testing.assert_array_equal(_guarded().held_out(), _guarded().held_out())
    assert not np.array_equal(_guarded(seed=1).held_out(), held)


def test_a_garbage_generator_loses_its_share_step_by_step():
    torch.manual_seed(0)
    np.random.seed(0)
    buffer = _guarded(_Stub(faithful=False))
    metrics = _refits(buffer, 3, seed=0)
    assert all(m["synthetic/classifier_accuracy"] > 0.95 for m in metrics)
    assert [m["synthetic/share"] for m in metrics] == [0.25, 0.125, 0.0625]
    assert buffer.summary()["synthetic_share"] == 0.0625
    assert buffer.summary()["synthetic_guard_cuts"] == 3


def test_an_untrained_diffusion_generator_is_cut_too():
    """Not a stub: the real generator with no training (the benchmark's 'untrained' ablation,
    classifier accuracy 0.97-1.00 there) falls below the configured share at its first refit."""
    torch.manual_seed(0)
    buffer = _guarded(generator={"fit_steps": 0, "first_fit_steps": 0})  # default network
    metrics = _refits(buffer, 1, seed=0)[0]
    assert metrics["synthetic/classifier_accuracy"] > 0.85
    assert metrics["synthetic/share"] == 0.25 and buffer.synthetic_count(256) == 64


def test_a_faithful_generator_keeps_its_share_and_a_recovered_one_regains_it():
    torch.manual_seed(0)
    stub = _Stub(faithful=True)
    buffer = _guarded(stub)
    metrics = _refits(buffer, 2, seed=0)
    assert all(m["synthetic/classifier_accuracy"] < 0.75 for m in metrics)
    assert [m["synthetic/share"] for m in metrics] == [0.5, 0.5]
    stub.faithful = False
    assert [m["synthetic/share"] for m in _refits(buffer, 2, seed=10)] == [0.25, 0.125]
    stub.faithful = True
    recovered = [m["synthetic/share"] for m in _refits(buffer, 4, seed=20)]
    assert recovered == pytest.approx([0.25, 0.375, 0.5, 0.5])  # +1/4 of 0.5 per passing refit
    assert buffer.summary()["synthetic_guard_cuts"] == 2


def test_with_the_guard_off_the_share_stays_at_the_ratio():
    buffer = _guarded(_Stub(faithful=False), guard={"enabled": False})
    metrics = _refits(buffer, 2, seed=0)
    assert [m["synthetic/share"] for m in metrics] == [0.5, 0.5]
    assert metrics[-1]["synthetic/classifier_accuracy"] > 0.95  # still measured and logged


@pytest.mark.parametrize("share", [0.125, 0.0])
def test_the_share_decides_how_many_rows_of_a_batch_are_synthetic(share):
    buffer = _guarded(_Stub(faithful=True))
    _refits(buffer, 1, seed=0)
    buffer.share = share
    np.random.seed(0)
    batch = buffer.sample(200)
    rows = torch.cat([batch.observations, batch.actions], dim=1).numpy()
    real = _real_rows(buffer)
    from_real = sum(tuple(np.round(row, 5)) in real for row in rows)
    assert len(rows) == 200 and from_real == 200 - round(share * 200)
    assert buffer.synthetic_rows_sampled == round(share * 200)


def test_the_share_survives_a_checkpoint(tmp_path):
    buffer = _guarded(_Stub(faithful=False))
    _refits(buffer, 2, seed=0)
    buffer.sample(64)
    assert buffer.share == 0.125
    path = save_state(tmp_path / "buffer.safetensors", buffer.extra_state())
    again = _guarded(_Stub(faithful=False))
    again.load_extra_state(load_state(path)[0])
    assert again.share == 0.125 and again.synthetic_count(256) == 32
    assert again.summary() == buffer.summary()
    # and the guard goes on from there, not from the configured ratio
    for name in ("observations", "next_observations", "actions", "rewards", "dones", "timeouts"):
        getattr(again, name)[:] = getattr(buffer, name)
    again.pos, again.since_refit = buffer.pos, buffer.since_refit
    _fill(again, 64, seed=5)
    assert again.pop_metrics()["synthetic/share"] == 0.0625


def test_an_old_checkpoint_without_a_share_loads_at_the_ratio():
    buffer = _guarded(_Stub(faithful=False))
    _refits(buffer, 1, seed=0)
    state = buffer.extra_state()
    for key in ("share", "guard_cuts", "synthetic_rows_sampled"):
        del state[key]
    again = _guarded()
    again.load_extra_state(state)
    assert again.share == 0.5


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"guard": {"max_accuracy": 0.4}}, "guard.max_accuracy"),
    ({"guard": {"backoff": 1.0}}, "guard.backoff"),
    ({"guard": {"min_share": 0.3}, "ratio": 0.2}, "guard.min_share (0.3) exceeds ratio (0.2)"),
    ({"fidelity_holdout": 0.9}, "fidelity_holdout"),
    ({"guard": {"enable": False}}, "enable"),
])
def test_bad_guard_settings_are_one_line_errors(kwargs, expected):
    with pytest.raises(ConfigError) as error:
        _guarded(**kwargs)
    assert expected in str(error.value) and "\n" not in str(error.value)


def test_the_most_recent_rows_come_first_across_the_ring_buffers_wrap():
    """Fidelity is scored on the *most recent* held-out rows, also once the buffer is full and
    new transitions overwrite the oldest (and with several envs per step)."""
    buffer = SyntheticReplayBuffer(6, OBS, ACT, device="cpu", n_envs=2, ratio=0.0)
    for step in range(5):  # 3 slots per env: steps 3 and 4 overwrite 0 and 1
        obs = np.full((2, 3), step, np.float32)
        obs[1] += 0.5  # the second env's rows
        buffer.add(obs, obs, np.zeros((2, 1), np.float32), np.zeros(2), np.zeros(2), [{}, {}])
    stored = buffer.real_transitions().observations[:, 0]
    assert list(stored[buffer.recency()]) == [4, 4.5, 3, 3.5, 2, 2.5]
