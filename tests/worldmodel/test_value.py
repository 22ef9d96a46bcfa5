"""TerminalValue: n-step TD values rank states by what follows them, and stay within the bounds."""

import copy

import torch

from gmrl.worldmodel.value import TerminalValue, ValueConfig


def drifting_chain(n_episodes: int = 60) -> dict[str, torch.Tensor]:
    """1-D states drifting right by 0.05 a step, +1 per step, terminated past x = 1."""
    rows: dict[str, list] = {k: [] for k in ("obs", "action", "reward", "next_obs", "terminated")}
    g = torch.Generator().manual_seed(0)
    for _ in range(n_episodes):
        x = float(torch.rand((), generator=g)) * 0.5
        while True:
            nxt = x + 0.05
            done = nxt > 1.0
            for key, value in zip(rows, ([x], [0.0], 1.0, [nxt], done), strict=True):
                rows[key].append(value)
            if done:
                break
            x = nxt
    return {k: torch.tensor(v, dtype=torch.float32) for k, v in rows.items()}


def test_value_is_higher_far_from_the_end_and_bounded() -> None:
    torch.manual_seed(0)
    data = drifting_chain()
    value = TerminalValue(1, ValueConfig(enabled=True, discount=0.95, updates=1500))
    for i in range(3):
        value.fit(data, generator=torch.Generator().manual_seed(i))
    v = value(torch.tensor([[0.1], [0.5], [0.95]])).detach()
    # true discounted values: 18 steps left -> 12.1, 10 -> 8.0, 1 -> 1.0
    assert v[0] > v[1] + 2 and v[1] > v[2] + 3, v
    assert abs(float(v[2]) - 1.0) < 1.0
    assert float(v.max()) <= 1 / (1 - 0.95) + 1e-3


def test_value_training_state_round_trip() -> None:
    data = drifting_chain(5)
    a = TerminalValue(1, ValueConfig(enabled=True, updates=20))
    a.fit(data, generator=torch.Generator().manual_seed(0))
    b = TerminalValue(1, ValueConfig(enabled=True, updates=20))
    b.load_training_state(copy.deepcopy(a.training_state()))  # as if read from a file
    a.fit(data, generator=torch.Generator().manual_seed(1))
    b.fit(data, generator=torch.Generator().manual_seed(1))
    x = torch.linspace(0, 1, 7).reshape(-1, 1)
    torch.testing.assert_close(a(x), b(x))


def test_n_step_targets_stop_at_episode_ends_and_bootstrap_only_truncations() -> None:
    from gmrl.worldmodel.value import n_step_targets

    # episode A: 3 steps ending in a termination; episode B: 2 steps ending in a truncation
    data = {
        "reward": torch.tensor([1.0, 2.0, 3.0, 10.0, 20.0]),
        "terminated": torch.tensor([False, False, True, False, False]),
        "truncated": torch.tensor([False, False, False, False, True]),
    }
    returns, factor, boot = n_step_targets(data, n=2, discount=0.5)
    torch.testing.assert_close(returns, torch.tensor([2.0, 3.5, 3.0, 20.0, 20.0]))
    torch.testing.assert_close(factor, torch.tensor([0.25, 0.0, 0.0, 0.25, 0.5]))
    assert boot.tolist() == [1, 2, 2, 4, 4]


def test_value_is_pessimistic_off_the_data() -> None:
    """Far from every state seen, V stays within the returns the rewards allow (an MLP alone
    extrapolated to 540 where 100 was the most possible, and the planner drifted there)."""
    data = drifting_chain(20)
    value = TerminalValue(1, ValueConfig(enabled=True, discount=0.95, updates=300))
    value.fit(data, generator=torch.Generator().manual_seed(0))
    far = value(torch.tensor([[-50.0], [50.0]])).detach()
    assert (far >= 0).all() and (far <= 1 / (1 - 0.95) + 1e-4).all()
