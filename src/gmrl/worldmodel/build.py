"""The v1 world model a config describes: the ensemble's settings plus where reward and
termination come from, resolved for one env.

Shared by the `worldmodel` recipe and `WorldModelAgent` (gmrl's agent contract), so `gmrl run`,
`gmrl.make_agent({"agent": "worldmodel", ...})` and the benchmarks build the same model from the
same keys (configs/worldmodel/default.yaml's `model` section).
"""

from typing import Any

from pydantic import Field

from gmrl.core.errors import ConfigError
from gmrl.core.imports import import_object
from gmrl.worldmodel.ensemble import EnsembleConfig, GaussianEnsemble


class ModelSection(EnsembleConfig):
    """The ensemble (`EnsembleConfig`) plus where reward and termination come from."""

    reward: str = Field(
        default="known",
        description="known (closed form, PETS convention), learned, shaped (a planning proxy, "
        "see known_fns), or 'module:function' taking (obs, action, next_obs)",
    )
    termination: str = Field(default="known", description="known, learned, or 'module:function'")


def resolve_function(spec: str, known: dict[str, Any], env_id: str, what: str) -> Any:
    """A reward/termination spec as a callable for `env_id` (None means: learn it)."""
    if spec == "learned":
        return None
    if spec in ("known", "shaped"):
        if env_id not in known:
            raise ConfigError(
                f"no {spec} {what} function for env '{env_id}' (have: {', '.join(known)}): set "
                f"model.{what}=learned or give 'module:function'"
            )
        return known[env_id]
    if ":" in spec:
        return import_object(spec, f"model.{what}")
    raise ConfigError(f"model.{what}='{spec}': use known, learned, shaped or 'module:function'")


def model_functions(section: ModelSection, env_id: str) -> tuple[Any, Any]:
    """(reward_fn, termination_fn) for `env_id`; None where the ensemble learns it."""
    from gmrl.worldmodel import known_fns

    if section.termination == "shaped":
        raise ConfigError(
            "model.termination cannot be 'shaped': use known, learned or module:function"
        )
    rewards = known_fns.SHAPED_REWARDS if section.reward == "shaped" else known_fns.KNOWN_REWARDS
    return (resolve_function(section.reward, rewards, env_id, "reward"),
            resolve_function(section.termination, known_fns.KNOWN_TERMINATIONS, env_id,
                             "termination"))


def build_model(section: ModelSection, observation_space: Any, action_space: Any,
                env_id: str) -> GaussianEnsemble:
    """The ensemble for these spaces, with the reward and termination `section` names."""
    reward_fn, termination_fn = model_functions(section, env_id)
    return GaussianEnsemble.from_spaces(observation_space, action_space, config=section,
                                        reward_fn=reward_fn, termination_fn=termination_fn)
