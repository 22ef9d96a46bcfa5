"""The generative model zoo: one contract (`GenerativeModel`), five families.

| name | class | family | `log_prob` |
|---|---|---|---|
| vae | `VAE` | variational autoencoder | ELBO (a lower bound) |
| gan | `GAN` | generative adversarial network | not available (raises) |
| flow | `RealNVP` | normalizing flow | exact |
| diffusion | `DDPM` | denoising diffusion | variational bound |
| autoregressive | `AutoregressiveModel` | token sequences (GRU/LSTM/transformer) | exact |
| binned-autoregressive | `BinnedAutoregressive` | quantised vectors | exact (histogram) |
"""


from gmrl.core.errors import ConfigError
from gmrl.core.imports import gmrl_object
from gmrl.generative.base import GenerativeModel, History

MODEL_REGISTRY: dict[str, tuple[str, str]] = {
    "vae": ("gmrl.generative.vae:VAE", "variational autoencoder"),
    "gan": ("gmrl.generative.gan:GAN", "generative adversarial network"),
    "flow": ("gmrl.generative.flow:RealNVP", "normalizing flow (RealNVP)"),
    "diffusion": ("gmrl.generative.diffusion:DDPM", "denoising diffusion (DDPM)"),
    "autoregressive": (
        "gmrl.generative.autoregressive:AutoregressiveModel",
        "autoregressive token model (GRU/LSTM/transformer)",
    ),
    "binned-autoregressive": (
        "gmrl.generative.autoregressive:BinnedAutoregressive",
        "autoregressive model of quantised vectors",
    ),
}


def get_model_class(name: str) -> type[GenerativeModel]:
    """The class registered as `name`, or a one-line `ConfigError` listing the choices."""
    if name not in MODEL_REGISTRY:
        raise ConfigError(
            f"unknown generative model '{name}' (available: {', '.join(MODEL_REGISTRY)})"
        )
    model_class: type[GenerativeModel] = gmrl_object(MODEL_REGISTRY[name][0])
    return model_class


def build_model(name: str, **params: object) -> GenerativeModel:
    """Instantiate a registered model; unknown or bad parameters become a one-line error."""
    cls = get_model_class(name)
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"bad parameters for model '{name}': {exc}") from exc


__all__ = ["MODEL_REGISTRY", "GenerativeModel", "History", "build_model", "get_model_class"]
