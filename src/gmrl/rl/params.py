"""Typed hyper-parameters of every algorithm in the zoo: one pydantic model per algorithm.

`AlgoParams` is a discriminated union keyed on `algo`, so a config's `params` section is
validated by the model of the algorithm it names, in one way for all of them: unknown keys get
a close-match suggestion, learning rates must be finite and positive (`learning_rate=inf` is
refused before anything runs), probabilities lie in [0, 1].

One default per knob: where a function or class already declares a knob's default (tabular
learners, dynamic programming, MCTS, and each Stable-Baselines3 class), the model is generated
from its signature (`signature_model`), so the default lives only there; gmrl's own
policy-gradient agents declare theirs in their config classes. Types are tightened per knob
where gmrl knows them (`_SB3_TYPES`), everything else passes through to the library unchanged.

The SB3 classes themselves are named here too (`SB3_ALGORITHMS`, `algorithm_class`): the params
models are generated from them, and `gmrl.rl.sb3.factory` builds agents from them on top of
this module (it imports this module; this module never imports it).
"""

import difflib
import inspect
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm

from gmrl.core.config import (
    FiniteFloat,
    NonNegativeFloat,
    PositiveFloat,
    Probability,
    StrictModel,
)
from gmrl.core.errors import ConfigError

PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Discount = Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)]

TABULAR = ("q_learning", "sarsa")
DP = ("value_iteration", "policy_iteration")
PG = ("reinforce", "actor_critic")
SB3_ALGORITHMS: dict[str, type[BaseAlgorithm]] = {
    "ppo": PPO, "a2c": A2C, "dqn": DQN, "sac": SAC, "td3": TD3,
}
SB3 = tuple(SB3_ALGORITHMS)
ALGOS = (*TABULAR, *DP, "mcts", *PG, *SB3)


def signature_model(
    name: str, function: Callable[..., Any], *, algos: tuple[str, ...], skip: tuple[str, ...],
    types: dict[str, Any], base: type[BaseModel] = StrictModel,
    extra: dict[str, tuple[Any, Any]] | None = None, doc: str = "",
) -> type[BaseModel]:
    """A params model whose fields are `function`'s keyword arguments, with their defaults.

    `types` tightens a knob's type (unlisted knobs accept any value); `skip` names arguments the
    caller sets itself; `extra` adds knobs that are not in the signature; `algos` are the values
    of the `algo` discriminator (kept out of dumps: the config states it once, at the top).
    """
    fields: dict[str, Any] = {
        "algo": (Literal[algos], Field(algos[0], exclude=True, description="set from the config")),
    }
    for parameter in inspect.signature(function).parameters.values():
        if parameter.name in skip or parameter.kind in (
            inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD
        ):
            continue
        default = parameter.default if parameter.default is not inspect.Parameter.empty else ...
        fields[parameter.name] = (types.get(parameter.name, Any), Field(default))
    fields.update(extra or {})
    model = create_model(name, __base__=base, __doc__=doc or None, **fields)
    return model


# --------------------------------------------------------------------------- tabular
class ConstantSpec(StrictModel):
    """`{type: constant, value: 0.1}`"""

    type: Literal["constant"]
    value: Probability


class LinearSpec(StrictModel):
    """`{type: linear, start: 1.0, end: 0.05, fraction: 0.5}` (see `tabular.Linear`)."""

    type: Literal["linear"]
    start: Probability
    end: Probability
    fraction: Annotated[float, Field(gt=0, le=1)] = 1.0


class ExponentialSpec(StrictModel):
    """`{type: exponential, start: 1.0, end: 0.0, decay: 0.999}` (see `tabular.Exponential`)."""

    type: Literal["exponential"]
    start: Probability
    end: Probability = 0.0
    decay: Annotated[float, Field(gt=0, le=1)] = 0.999


ScheduleSpec = Annotated[ConstantSpec | LinearSpec | ExponentialSpec, Field(discriminator="type")]


def _rate_or_schedule(value: Any) -> Any:
    """A probability-like number, or a schedule spec (one error line for either)."""
    if isinstance(value, (ConstantSpec, LinearSpec, ExponentialSpec)):
        return value
    if isinstance(value, dict):
        try:
            return TypeAdapter(ScheduleSpec).validate_python(value)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"][1:]) or "type"
            raise PydanticCustomError(
                "schedule", "schedule {where}: {problem} (type: constant with value; linear "
                "with start, end, fraction; exponential with start, end, decay)",
                {"where": where, "problem": error["msg"]},
            ) from None
    number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if number is None or not 0 <= number <= 1:
        raise PydanticCustomError("rate", "must be a number in [0, 1] or a schedule", {})
    return float(number)


RateOrSchedule = Annotated[Any, BeforeValidator(_rate_or_schedule)]


def schedule(value: Any) -> Any:
    """A `tabular` schedule object from a number or a schedule spec."""
    from gmrl.rl import tabular

    if isinstance(value, ConstantSpec):
        return tabular.Constant(value.value)
    if isinstance(value, LinearSpec):
        return tabular.Linear(value.start, value.end, value.fraction)
    if isinstance(value, ExponentialSpec):
        return tabular.Exponential(value.start, value.end, value.decay)
    return value


def _tabular_model() -> type[BaseModel]:
    from gmrl.rl.tabular import q_learning

    return signature_model(
        "TabularParams", q_learning, algos=TABULAR,
        skip=("env", "episodes", "seed", "callback"),
        types={"gamma": Probability, "alpha": RateOrSchedule, "epsilon": RateOrSchedule,
               "q_init": FiniteFloat, "max_episode_steps": PositiveInt | None},
        doc="Q-learning / SARSA: discount, step size and exploration (numbers or schedules).",
    )


def _dp_models() -> tuple[type[BaseModel], type[BaseModel]]:
    from gmrl.rl.dynamic_programming import policy_iteration, value_iteration

    skip = ("model",)
    vi = signature_model(
        "ValueIterationParams", value_iteration, algos=("value_iteration",), skip=skip,
        types={"gamma": Probability, "tol": PositiveFloat, "max_iterations": PositiveInt},
        doc="Value iteration: discount, stopping tolerance, sweep limit.",
    )
    pi = signature_model(
        "PolicyIterationParams", policy_iteration, algos=("policy_iteration",), skip=skip,
        types={"gamma": Discount, "max_iterations": PositiveInt},
        doc="Policy iteration: discount (< 1) and improvement-step limit.",
    )
    return vi, pi


def _mcts_model() -> type[BaseModel]:
    from gmrl.rl.mcts import MCTS

    return signature_model(
        "MCTSParams", MCTS.__init__, algos=("mcts",),
        skip=("self", "model", "value_fn", "prior_fn", "rollout_policy", "seed"),
        types={"n_simulations": PositiveInt, "exploration": NonNegativeFloat,
               "max_depth": PositiveInt, "discount": Probability, "leaf_batch": PositiveInt,
               "rollouts_per_leaf": PositiveInt},
        doc="MCTS planning with the env's true model: simulations, horizon, rollouts.",
    )


def _pg_models() -> tuple[type[BaseModel], type[BaseModel]]:
    from gmrl.rl.policy_gradient.actor_critic import ActorCriticConfig
    from gmrl.rl.policy_gradient.reinforce import ReinforceConfig

    def tag(algo: str) -> Any:
        return (Literal[algo], Field(algo, exclude=True))

    reinforce = create_model("ReinforceParams", __base__=ReinforceConfig,
                             algo=tag("reinforce"))
    actor_critic = create_model("ActorCriticParams", __base__=ActorCriticConfig,
                                algo=tag("actor_critic"))
    return reinforce, actor_critic


# --------------------------------------------------------------------------- SB3
def algorithm_class(algo: str) -> type[BaseAlgorithm]:
    """The SB3 class for `algo` (ppo, a2c, dqn, sac, td3), or a one-line `ConfigError`."""
    if algo not in SB3_ALGORITHMS:
        close = difflib.get_close_matches(algo, list(SB3_ALGORITHMS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConfigError(
            f"unknown SB3 algorithm '{algo}'{hint} (available: {', '.join(SB3_ALGORITHMS)})"
        )
    return SB3_ALGORITHMS[algo]


def _positive_or_linear(name: str, example: str) -> Callable[[Any], float | str]:
    """The check of a knob SB3 takes as a number or a schedule: a finite positive number, or
    `lin_<value>`, linear decay from that value to 0 over training (rl-zoo's notation)."""
    def check(value: Any) -> float | str:
        text = value.removeprefix("lin_") if isinstance(value, str) else value
        try:
            number = float(text) if not isinstance(text, bool) else float("nan")
        except (TypeError, ValueError):
            number = float("nan")
        if not 0 < number < float("inf"):
            raise PydanticCustomError(
                name, f"must be a finite positive number or lin_<value> (e.g. lin_{example})", {}
            )
        return value if isinstance(value, str) and value.startswith("lin_") else number

    return check


LearningRate = Annotated[Any, BeforeValidator(_positive_or_linear("learning_rate", "3e-4"))]
ClipRange = Annotated[Any, BeforeValidator(_positive_or_linear("clip_range", "0.2"))]


class NoiseSpec(StrictModel):
    """Exploration noise for SAC/TD3: `{type: normal | ornstein_uhlenbeck, sigma: 0.1}`."""

    type: Literal["normal", "ornstein_uhlenbeck"] = "normal"
    sigma: PositiveFloat = 0.1


# Knobs whose type gmrl knows; SB3's other arguments are passed through as written.
_SB3_TYPES: dict[str, Any] = {
    "learning_rate": LearningRate, "gamma": Probability, "gae_lambda": Probability,
    "tau": Probability, "n_steps": PositiveInt, "batch_size": PositiveInt,
    "n_epochs": PositiveInt, "buffer_size": PositiveInt, "learning_starts": NonNegativeInt,
    "target_update_interval": PositiveInt, "policy_delay": PositiveInt,
    "exploration_fraction": Probability, "exploration_initial_eps": Probability,
    "exploration_final_eps": Probability, "vf_coef": NonNegativeFloat,
    "max_grad_norm": PositiveFloat, "rms_prop_eps": PositiveFloat,
    "target_policy_noise": NonNegativeFloat, "target_noise_clip": NonNegativeFloat,
    "clip_range": ClipRange, "clip_range_vf": ClipRange | None,
    "target_kl": PositiveFloat | None,
    "action_noise": NoiseSpec | None, "policy_kwargs": dict[str, Any] | None,
    "policy": str | None,
}
# Arguments gmrl sets itself (from the top-level config) or that YAML cannot express.
SB3_MANAGED = ("self", "env", "seed", "device", "verbose", "tensorboard_log", "_init_setup_model")


class SB3ParamsBase(StrictModel):
    """Shared by the generated SB3 models: refuse keys gmrl sets from the top-level config."""

    @model_validator(mode="before")
    @classmethod
    def _managed(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if key in SB3_MANAGED:
                    raise PydanticCustomError(
                        "managed_key", "'{key}' is set by gmrl (use the top-level config)",
                        {"key": key},
                    )
        return data


@cache
def sb3_params_model(algo: str) -> type[BaseModel]:
    """The params model of an SB3 algorithm, generated from its class's signature."""
    cls = algorithm_class(algo)
    return signature_model(
        f"{cls.__name__}Params", cls.__init__, algos=(algo,), skip=SB3_MANAGED,
        types=_SB3_TYPES, base=SB3ParamsBase,
        extra={
            "policy": (str | None, Field(None, description="default MlpPolicy/MultiInputPolicy")),
            "n_envs": (PositiveInt, Field(1, description="env copies in a DummyVecEnv (gmrl)")),
        },
        doc=f"Stable-Baselines3 {cls.__name__} keyword arguments (SB3's defaults) + n_envs.",
    )


# --------------------------------------------------------------------------- the union
@cache
def params_models() -> dict[str, type[BaseModel]]:
    """algo -> its params model."""
    tabular = _tabular_model()
    vi, pi = _dp_models()
    reinforce, actor_critic = _pg_models()
    models: dict[str, type[BaseModel]] = {algo: tabular for algo in TABULAR}
    models.update({"value_iteration": vi, "policy_iteration": pi, "mcts": _mcts_model(),
                   "reinforce": reinforce, "actor_critic": actor_critic})
    models.update({algo: sb3_params_model(algo) for algo in SB3})
    return models


def params_union() -> Any:
    """`Annotated[Union[...], Field(discriminator="algo")]` over every algorithm's model."""
    members = tuple(dict.fromkeys(params_models().values()))
    return Annotated[Union[members], Field(discriminator="algo")]  # noqa: UP007


def params_dict(params: BaseModel) -> dict[str, Any]:
    """A params model as the keyword arguments its algorithm takes (no `algo`)."""
    return params.model_dump(exclude={"algo"})
