"""FrameVAE: learns CartPole frames, round-trips through safetensors."""

import numpy as np
import pytest
import torch

from gmrl.core.errors import CheckpointError
from gmrl.generative.base import GenerativeModel
from gmrl.worldmodel.frame_vae import FrameVAE
from gmrl.worldmodel.pixels import make_pixel_env


@pytest.fixture(scope="module")
def frames() -> torch.Tensor:
    """~400 stacked frames from random CartPole play (fixed seeds)."""
    env = make_pixel_env("CartPole-v1", size=(16, 32), stack=2)
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=0)
    out = []
    while len(out) < 400:
        out.append(obs)
        obs, _, terminated, truncated, _ = env.step(int(rng.integers(2)))
        if terminated or truncated:
            obs, _ = env.reset()
    return torch.as_tensor(np.stack(out))


def test_reconstruction_beats_untrained(frames: torch.Tensor) -> None:
    torch.manual_seed(0)
    vae = FrameVAE(channels=2, height=16, width=32, z_dim=8, base_channels=8, beta=0.25)
    train, test = frames[:320], frames[320:]
    untrained = vae.reconstruction_error(test).mean()
    history = vae.fit(train, epochs=6, batch_size=32, generator=torch.Generator().manual_seed(0))
    trained = vae.reconstruction_error(test).mean()
    assert history.metrics["loss"][-1] < history.metrics["loss"][0]
    assert trained < 0.2 * untrained, (float(trained), float(untrained))
    assert vae.encode(test).shape == (80, 8)
    assert vae.sample(3, generator=torch.Generator().manual_seed(1)).dtype == torch.uint8


def test_save_load_round_trip(tmp_path, frames: torch.Tensor) -> None:
    vae = FrameVAE(channels=2, height=16, width=32, z_dim=4, base_channels=4)
    path = vae.save(tmp_path / "vae.safetensors")
    again = GenerativeModel.load(path)
    assert isinstance(again, FrameVAE)
    assert torch.equal(again.encode(frames[:5]), vae.eval().encode(frames[:5]))
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        GenerativeModel.load(path)


def test_frame_size_must_divide_by_eight() -> None:
    with pytest.raises(ValueError, match="multiple of 8"):
        FrameVAE(height=20, width=32)
