"""Every registered generative model honours the `GenerativeModel` contract.

Parametrised over `MODEL_REGISTRY`: fit/History, deterministic sampling from the caller's
generator, log_prob shape (or a clear refusal), exact save -> load round trips, refusal of broken
checkpoint files, and resumable training (checkpoint after one epoch, resume, same weights as an
uninterrupted run). A model whose module is not written yet is skipped, not failed.
"""

import importlib
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from gmrl.core.checkpoint import load_state, save_state
from gmrl.core.errors import CheckpointError
from gmrl.generative import MODEL_REGISTRY, GenerativeModel, History, build_model
from gmrl.generative.toy import toy_data

VOCAB, SEQ_LEN = 5, 6


def _vectors(n: int, g: torch.Generator) -> torch.Tensor:
    return toy_data("two_moons", n, g)


def _tokens(n: int, g: torch.Generator) -> torch.Tensor:
    return torch.randint(0, VOCAB, (n, SEQ_LEN), generator=g)


# Small settings per registry name: (constructor kwargs, data maker). Keep every model tiny.
CASES: dict[str, tuple[dict, Callable[[int, torch.Generator], torch.Tensor]]] = {
    "vae": ({"data_dim": 2, "hidden": 16, "iw_samples": 4}, _vectors),
    "gan": ({"data_dim": 2, "hidden": 16}, _vectors),
    "flow": ({"data_dim": 2, "coupling_layers": 2, "hidden": 16}, _vectors),
    "diffusion": ({"data_dim": 2, "timesteps": 10, "hidden": 16, "layers": 2}, _vectors),
    "autoregressive": ({"vocab_size": VOCAB, "seq_len": SEQ_LEN, "hidden": 16}, _tokens),
    "binned-autoregressive": ({"data_dim": 2, "bins": 12, "hidden": 16}, _vectors),
}


def _model_or_skip(name: str) -> GenerativeModel:
    module_name = MODEL_REGISTRY[name][0].split(":")[0]
    try:
        importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            pytest.skip(f"{module_name} is not written yet")
        raise
    torch.manual_seed(0)
    return build_model(name, **CASES[name][0])


def _trained(name: str, epochs: int = 1) -> tuple[GenerativeModel, torch.Tensor]:
    model = _model_or_skip(name)
    data = CASES[name][1](96, torch.Generator().manual_seed(1))
    model.fit(data, epochs=epochs, batch_size=32, generator=torch.Generator().manual_seed(2))
    return model, data


def _samples(model: GenerativeModel, seed: int, n: int = 16) -> torch.Tensor:
    return model.sample(n, generator=torch.Generator().manual_seed(seed))


def test_every_registered_name_has_a_case() -> None:
    assert set(CASES) == set(MODEL_REGISTRY)


@pytest.mark.parametrize("name", list(MODEL_REGISTRY))
def test_fit_sample_and_log_prob(name: str) -> None:
    model, data = _trained(name)
    history = model.fit(data, epochs=2, batch_size=32, generator=torch.Generator().manual_seed(3))
    assert isinstance(history, History) and len(history) == 2
    assert all(torch.isfinite(torch.tensor(v)).all() for v in history.metrics["loss"])
    assert model.log_prob_kind in {"exact", "bound", "none"}

    first, again, other = _samples(model, 5), _samples(model, 5), _samples(model, 6)
    assert first.shape == (16, *data.shape[1:])
    assert first.device == model.device
    assert torch.equal(first, again), "same generator seed must give the same samples"
    assert not torch.equal(first, other), "different seeds should give different samples"
    with pytest.raises(ValueError, match="unconditional"):
        model.sample(2, generator=torch.Generator().manual_seed(0), condition=torch.zeros(2))

    if model.log_prob_kind == "none":
        with pytest.raises(NotImplementedError):
            model.log_prob(data[:8])
    else:
        with torch.no_grad():
            log_prob = model.log_prob(data[:8])
        assert log_prob.shape == (8,)
        assert torch.isfinite(log_prob).all()


@pytest.mark.parametrize("name", list(MODEL_REGISTRY))
def test_save_load_round_trip_is_exact(name: str, tmp_path: Path) -> None:
    model, data = _trained(name)
    path = model.save(tmp_path / "model.safetensors")
    loaded = GenerativeModel.load(path)
    assert type(loaded) is type(model)
    assert loaded.hparams == model.hparams
    assert torch.equal(_samples(loaded, 11), _samples(model, 11))
    if model.log_prob_kind != "none":
        with torch.no_grad():
            assert torch.equal(loaded.log_prob(data[:8]), model.log_prob(data[:8]))


@pytest.mark.parametrize("name", list(MODEL_REGISTRY))
def test_broken_checkpoints_are_refused_with_one_line(name: str, tmp_path: Path) -> None:
    model = _model_or_skip(name)
    path = model.save(tmp_path / "model.safetensors")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    not_safetensors = tmp_path / "weights.pt"
    not_safetensors.write_bytes(b"PK\x03\x04 this is a zip archive, as torch.save writes")
    for bad in (truncated, not_safetensors):
        with pytest.raises(CheckpointError) as info:
            GenerativeModel.load(bad)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", list(MODEL_REGISTRY))
def test_resumed_training_matches_uninterrupted(name: str, tmp_path: Path) -> None:
    """Checkpoint after one epoch, rebuild, restore, train on: the weights equal a straight run."""
    model = _model_or_skip(name)
    data = CASES[name][1](96, torch.Generator().manual_seed(1))
    shuffle = torch.Generator().manual_seed(2)
    model.fit(data, epochs=1, batch_size=32, generator=shuffle)
    save_state(tmp_path / "state.safetensors", model.training_state())
    rng, shuffle_state = torch.get_rng_state(), shuffle.get_state()
    model.fit(data, epochs=1, batch_size=32, generator=shuffle)

    resumed = build_model(name, **CASES[name][0])
    state, _ = load_state(tmp_path / "state.safetensors")
    resumed.load_training_state(state)
    torch.set_rng_state(rng)
    resumed.fit(data, epochs=1, batch_size=32, generator=torch.Generator().set_state(shuffle_state))
    for (key, expected), actual in zip(
        model.state_dict().items(), resumed.state_dict().values(), strict=True
    ):
        assert torch.equal(expected, actual), f"{name}: '{key}' differs after resuming"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", list(MODEL_REGISTRY))
def test_cuda_sampling_with_a_cpu_generator(name: str) -> None:
    model, data = _trained(name)
    on_cpu = _samples(model, 4)
    model.to("cuda")
    on_gpu = _samples(model, 4)
    assert on_gpu.device.type == "cuda"
    if data.is_floating_point():  # same noise, so the same samples up to float rounding
        assert torch.allclose(on_gpu.cpu(), on_cpu, atol=1e-3, rtol=1e-3)
    if model.log_prob_kind != "none":
        with torch.no_grad():
            assert model.log_prob(data[:8].cuda()).device.type == "cuda"
