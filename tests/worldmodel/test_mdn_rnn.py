"""MDN-RNN and LatentWorldModel: beats naive latent predictors, steps batches, saves, dreams."""

import math

import numpy as np
import pytest
import torch

from gmrl.core.errors import CheckpointError
from gmrl.worldmodel.base import WorldModel
from gmrl.worldmodel.latent_model import (
    LatentModelConfig,
    LatentWorldModel,
    PaddedEpisodes,
    split_episodes,
)
from gmrl.worldmodel.mdn_rnn import MDNRNN, MDNOutput, mixture_log_prob


def synthetic_latents(episodes: int, steps: int, seed: int) -> PaddedEpisodes:
    """A pushed, damped 2-D latent system (position, velocity) with noise and a wall."""
    g = torch.Generator().manual_seed(seed)
    z = torch.zeros(episodes, steps + 1, 2)
    z[:, 0] = torch.randn(episodes, 2, generator=g) * 0.3
    actions = torch.randint(2, (episodes, steps), generator=g)
    for t in range(steps):
        x, v = z[:, t, 0], z[:, t, 1]
        push = 0.3 * (2 * actions[:, t] - 1)
        z[:, t + 1, 0] = x + 0.2 * v + 0.02 * torch.randn(episodes, generator=g)
        z[:, t + 1, 1] = 0.9 * v + push + 0.02 * torch.randn(episodes, generator=g)
    terminated = z[:, 1:, 0].abs() > 1.0
    # each episode ends at its first termination (or after `steps`)
    first = torch.where(terminated.any(1), terminated.float().argmax(1) + 1, torch.tensor(steps))
    mask = torch.arange(steps)[None] < first[:, None]
    return PaddedEpisodes(
        z, actions, torch.ones(episodes, steps) * mask, terminated.float() * mask, first
    )


def gaussian_nll(target: torch.Tensor, mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    return 0.5 * (math.log(2 * math.pi) + var.log() + (target - mean).pow(2) / var)


@pytest.fixture(scope="module")
def trained() -> tuple[LatentWorldModel, PaddedEpisodes, PaddedEpisodes]:
    """An MDN-RNN fitted to synthetic latent episodes, with its train and held-out data."""
    torch.manual_seed(0)
    train, test = synthetic_latents(200, 30, seed=0), synthetic_latents(60, 30, seed=1)
    model = LatentWorldModel(
        frame_shape=(2, 16, 32), config=LatentModelConfig(z_dim=2, hidden=32, mixtures=3)
    )
    model.fit_rnn(
        train, steps=600, batch_size=16, seq_len=16, generator=torch.Generator().manual_seed(0)
    )
    return model, train, test


def test_mdn_rnn_beats_copy_and_unconditional_baselines(trained) -> None:
    model, train, test = trained
    nll = float(model.sequence_nll(test).mean())
    z_now, z_next = train.z[:, :-1][train.mask], train.z[:, 1:][train.mask]
    test_now, test_next = test.z[:, :-1][test.mask], test.z[:, 1:][test.mask]
    copy_var = (z_next - z_now).var(0)  # best Gaussian around "z_{t+1} = z_t"
    copy_nll = float(gaussian_nll(test_next, test_now, copy_var).mean())
    uncond_nll = float(gaussian_nll(test_next, z_next.mean(0), z_next.var(0)).mean())
    assert nll < copy_nll - 0.5, (nll, copy_nll)
    assert nll < uncond_nll - 0.5, (nll, uncond_nll)


def test_termination_head_beats_the_base_rate(trained) -> None:
    model, _, test = trained
    out = model.rnn(test.z[:, :-1], test.actions, z_next=test.z[:, 1:])
    p = torch.sigmoid(out.done_logit)[test.mask]
    actual = test.terminated[test.mask]
    rate = actual.mean()
    assert 0 < rate < 1
    bce = torch.nn.functional.binary_cross_entropy(p, actual)
    base = -(rate * rate.log() + (1 - rate) * (1 - rate).log())  # best constant prediction
    assert bce < 0.8 * base, (float(bce), float(base))


def test_mixture_log_prob_matches_a_single_gaussian() -> None:
    mean, log_std = torch.tensor([[[0.5, -1.0]]]), torch.tensor([[[0.1, -0.3]]])
    out = MDNOutput(torch.zeros(1, 1), mean, log_std, hidden=torch.zeros(1, 4))
    target = torch.tensor([[0.2, 0.0]])
    expected = torch.distributions.Normal(mean[0, 0], log_std[0, 0].exp()).log_prob(target[0]).sum()
    assert torch.allclose(mixture_log_prob(out, target)[0], expected, atol=1e-5)


def test_temperature_scales_sample_spread() -> None:
    rnn = MDNRNN(z_dim=3, action_dim=2, hidden=16, mixtures=4)
    h, z = torch.zeros(2000, 16), torch.zeros(2000, 3)
    out = rnn.heads(h, z)
    cold = rnn.sample_next(out, temperature=0.1, generator=torch.Generator().manual_seed(0))
    hot = rnn.sample_next(out, temperature=1.5, generator=torch.Generator().manual_seed(0))
    assert cold.std(0).mean() < 0.5 * hot.std(0).mean()


def test_latent_world_model_step_is_batched_and_shaped() -> None:
    model = LatentWorldModel(frame_shape=(2, 16, 32), config=LatentModelConfig(z_dim=6, hidden=20))
    assert isinstance(model, WorldModel)
    frames = torch.randint(0, 256, (5, 2, 16, 32), dtype=torch.uint8)
    state = model.initial_state(frames)
    assert state.shape == (5, 26) and torch.all(state[:, 6:] == 0)
    action = torch.tensor([0, 1, 1, 0, 1])
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    nxt, reward, terminated = model.step(state, action, generator=g1)
    assert nxt.shape == (5, 26) and reward.shape == (5,) and terminated.shape == (5,)
    assert terminated.dtype == torch.bool
    again, _, _ = model.step(state, action, generator=g2)
    assert torch.equal(nxt, again)  # same generator state, same dream
    # row i of a batch equals stepping row i alone: the recurrence does not mix rows
    single, _, _ = model.step(state[2:3], action[2:3], generator=torch.Generator().manual_seed(0))
    assert single.shape == (1, 26)
    assert torch.allclose(single[0, 6:], nxt[2, 6:], atol=1e-6)
    observed = model.observe(state, action, frames)
    assert torch.allclose(observed[:, 6:], nxt[:, 6:])  # same recurrence in reality and dream


def test_fit_from_transitions_and_save_load(tmp_path) -> None:
    torch.manual_seed(0)
    n = 40
    frames = torch.randint(0, 256, (n + 1, 2, 16, 32), dtype=torch.uint8)
    terminated = torch.zeros(n, dtype=torch.bool)
    terminated[19] = True
    obs = torch.cat([frames[:20], frames[21:41]])  # two episodes of 20 steps
    next_obs = torch.cat([frames[1:21], frames[22:41], frames[40:41]])
    transitions = {
        "obs": obs,
        "next_obs": next_obs,
        "action": torch.randint(2, (n,)),
        "reward": torch.ones(n),
        "terminated": terminated,
        "truncated": torch.zeros(n, dtype=torch.bool),
    }
    assert [len(e) for e in split_episodes(transitions)] == [20, 20]
    config = LatentModelConfig(z_dim=4, hidden=16, vae_channels=4, batch_size=8, seq_len=8)
    model = LatentWorldModel(frame_shape=(2, 16, 32), config=config)
    metrics = model.fit(transitions, vae_steps=1, rnn_steps=3)
    assert {"vae_loss", "rnn_nll", "val_nll"} <= set(metrics)
    assert all(np.isfinite(v) for v in metrics.values())
    path = model.save(tmp_path / "wm.safetensors")
    again = LatentWorldModel.load(path)
    assert torch.equal(again.initial_state(frames[:3]), model.initial_state(frames[:3]))
    with pytest.raises(CheckpointError):
        LatentWorldModel.load(tmp_path / "missing.safetensors")
