"""Experiment configs: YAML files validated by pydantic, with dotted `key=value` overrides.

Every problem is reported before any work starts as one `ConfigError` line that names the file and
the key, with a close-match suggestion for misspelt keys.
"""

import difflib
import math
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from annotated_types import Le, Lt
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from gmrl.core.errors import ConfigError

# Number types for config fields: NaN and infinity are refused at validation time (a learning rate
# of `inf` would otherwise be accepted and train nothing).
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]

SEED_MAX = 2**32 - 1  # what every seeded library accepts (NumPy's legacy seed is 32-bit)

# The range of every number in a config whose field declares no upper bound of its own: a step
# count, epoch count or size beyond 10**9 could never finish (10**9 environment steps at a fast
# 1 ms each take 11.6 days; the world-model agent needs ~50 ms a step), so it is a typo or a unit
# mistake, refused up front rather than discovered days into a run.
NUMBER_LIMIT = 10**9


def _seed(value: Any, handler: ValidatorFunctionWrapHandler) -> int:
    """An integer within 0 ... SEED_MAX, else one message that gives the range."""
    problem = PydanticCustomError(
        "seed_range", "seed must be an integer within 0 ... {top} (2**32 - 1)", {"top": SEED_MAX}
    )
    if isinstance(value, bool):  # `seed: true` is a mistake, not the seed 1
        raise problem
    try:
        number: int = handler(value)
    except ValidationError:
        raise problem from None
    if not 0 <= number <= SEED_MAX:
        raise problem
    return number


# A seed: an integer within 0 ... 2**32 - 1, refused up front with a message giving the range
# (a seed of 2**70 would otherwise fail deep inside NumPy, and -5 with a message about
# something else).
Seed = Annotated[int, WrapValidator(_seed)]


def _declares_range(info: FieldInfo) -> bool:
    """Whether a field states its own upper bound (or owns its range, like `Seed`)."""
    return any(isinstance(item, (Le, Lt, WrapValidator)) for item in info.metadata)


def _out_of_limits(value: Any, where: str) -> tuple[str, Any] | None:
    """Where and what the first number in `value` beyond the limit (or not finite) is.

    Recurses into lists, tuples and dicts, so `where` grows to e.g. `params.lr` or `sizes[2]`.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        # written as "not <=" so NaN (which compares False with everything) is caught too
        return (where, value) if not abs(value) <= NUMBER_LIMIT else None
    if isinstance(value, dict):
        items = [(f"{where}.{key}", item) for key, item in value.items()]
    elif isinstance(value, (list, tuple)):
        items = [(f"{where}[{index}]", item) for index, item in enumerate(value)]
    else:
        return None
    for place, item in items:
        found = _out_of_limits(item, place)
        if found is not None:
            return found
    return None


M = TypeVar("M", bound=BaseModel)

class StrictModel(BaseModel):
    """Base for every config section.

    Unknown keys are errors, assignments are validated, NaN and infinity are refused in every
    float, and every number whose field declares no upper bound must lie within
    +-`NUMBER_LIMIT` (a count no run could finish is refused before any work starts).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _within_number_limit(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if field is None or _declares_range(field):
            return value
        found = _out_of_limits(value, info.field_name or "value")
        if found is None:
            return value
        where, number = found
        if isinstance(number, float) and not math.isfinite(number):
            raise PydanticCustomError(
                "number_not_finite",
                "bad value {value} at {where}: numbers in a config must be finite: give a number",
                {"value": number, "where": where},
            )
        raise PydanticCustomError(
            "number_limit",
            "bad value {value} at {where}: numbers in a config must lie within -{top} ... {top} "
            "(10**9; no run could finish a larger count): give a smaller value",
            {"value": number, "where": where, "top": f"{NUMBER_LIMIT:_}"},
        )


class RecipeConfig(StrictModel):
    """Fields shared by every recipe's config."""

    recipe: str = Field(description="which recipe runs this config (see `gmrl list`)")
    seed: Seed = Field(0, description="the one seed every random draw derives from (0 ... 2**32-1)")
    device: str = Field("auto", description="auto (CUDA when present), cpu, cuda or cuda:N")
    on_env_error: Literal["stop", "reset"] = Field(
        "stop", description="an env that raises or returns NaN mid-run: stop the run (after a "
        "checkpoint), or reset: cut the episode short and go on (recipes that step an env)",
    )
    max_env_errors: int = Field(
        10, ge=0, le=1_000_000, description="on_env_error: reset stops the run after this many "
        "episodes cut short",
    )


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping; problems become one-line `ConfigError`s."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(
            f"config '{path}' is a directory, not a YAML file: name a file in it "
            f"(e.g. {path / '<name>.yaml'}; see configs/)"
        )
    if not path.is_file():
        raise ConfigError(f"config file '{path}' not found: check the path (see configs/)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: malformed YAML{where}: {problem}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a UTF-8 text file") from exc
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"config file '{path}' cannot be read ({reason}): check it") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping of keys, got {type(data).__name__}"
        )
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse `a.b.c=value`; the value is read as YAML so `lr=1e-3` and `flag=true` are typed."""
    if "=" not in text:
        raise ConfigError(f"override '{text}' must look like key=value (e.g. seed=3)")
    key, raw = text.split("=", 1)
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(f"override '{text}' has an empty key part")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return parts, value


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Return a copy of `data` with each dotted override set (creating nested mappings).

    A dotted key through a value that is set and not a mapping (`corpus=essen corpus.stride=8`)
    is a `ConfigError` rather than a silent replacement of that value."""
    import copy

    result = copy.deepcopy(data)
    for text in overrides:
        parts, value = parse_override(text)
        node = result
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is not None and not isinstance(child, dict):
                where = ".".join(parts[: depth + 1])
                raise ConfigError(
                    f"override '{text}': '{where}' was given as {child!r}, not as a section; "
                    f"give each of its keys as {where}.<key>=... instead"
                )
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value
    return result


def _member(annotation: Any, tag: str) -> Any:
    """The member of a discriminated union whose discriminator value is `tag` (or None)."""
    for candidate in getattr(annotation, "__args__", ()) or ():
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            for field in candidate.model_fields.values():
                if tag in (getattr(field.annotation, "__args__", ()) or ()) and \
                        typing.get_origin(field.annotation) is typing.Literal:
                    return candidate
    return None


def _walk(model: type[BaseModel], location: Sequence[Any]) -> tuple[list[str], Any]:
    """`location` without discriminated-union tags (pydantic puts the tag after the field:
    'params.ppo.n_step' means 'params.n_step'), and the type found at its end (best effort)."""
    current: Any = model
    kept: list[str] = []
    parts = [str(p) for p in location]
    index = 0
    while index < len(parts):
        part = parts[index]
        kept.append(part)
        index += 1
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            current = None
            continue
        field = current.model_fields.get(part)
        if field is None:
            current = None
            continue
        current = field.annotation
        if field.discriminator is not None and index < len(parts):
            member = _member(current, parts[index])
            if member is not None:
                current, index = member, index + 1
                continue
        for candidate in getattr(current, "__args__", ()) or ():
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                current = candidate
    return kept, current


def _fields_at(model: type[BaseModel], location: Sequence[Any]) -> list[str]:
    """Names of the fields allowed at `location` inside `model` (best effort)."""
    current = _walk(model, location)[1]
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def describe_validation_error(model: type[BaseModel], exc: ValidationError, source: str) -> str:
    """Turn the first pydantic error into one line naming the key (with a suggestion)."""
    error = exc.errors()[0]
    location = [str(p) for p in error["loc"]]
    location = _walk(model, location)[0]  # without discriminated-union tags
    # YAML keys may hold newlines or control characters: show them escaped, on one line.
    shown_location = [p if p.isprintable() else p.encode("unicode_escape").decode()
                      for p in location]
    key = ".".join(shown_location) or "<root>"
    if error["type"] == "extra_forbidden":
        allowed = _fields_at(model, [str(p) for p in error["loc"]][:-1])
        close = difflib.get_close_matches(location[-1], allowed, n=1, cutoff=0.6)
        hint = f"; did you mean '{'.'.join([*shown_location[:-1], close[0]])}'?" if close else ""
        choices = f" (allowed: {', '.join(allowed)})" if allowed and not close else ""
        return f"{source}: unknown key '{key}'{hint}{choices}"
    if error["type"] == "missing":
        return f"{source}: missing required key '{key}'"
    if error["type"] == "value_error" and isinstance(error.get("input"), dict):
        # a cross-field rule (model validator) of a section, or of the whole config at <root>
        message = str(error["msg"]).removeprefix("Value error, ")
        return f"{source}: {message}" if not location else f"{source}: {key}: {message}"
    value = error.get("input")
    shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{source}: bad value {shown} for key '{key}': {error['msg']}"


def validate_config(model: type[BaseModel], data: dict[str, Any], source: str) -> Any:
    """Validate `data` against `model`, raising one-line `ConfigError`s."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(model, exc, source)) from exc
    except (TypeError, ValueError) as exc:  # validators raising plain errors on odd input
        raise ConfigError(f"{source}: invalid config: {str(exc).splitlines()[0]}") from exc


def section_of(model: type[M], config: Any, source: str) -> M:
    """`model` (an agent's settings) from an instance of itself, a mapping of its keys, or a
    larger config holding them (a recipe config: the keys `model` does not have are left out);
    a bad value is a one-line `ConfigError` naming `source`."""
    if isinstance(config, model):
        return config
    if isinstance(config, BaseModel):
        config = config.model_dump(include=set(model.model_fields))
    checked: M = validate_config(model, dict(config or {}), source)
    return checked


def load_config(
    path: str | Path,
    overrides: Sequence[str],
    resolve_recipe: Callable[[str], type[RecipeConfig]],
) -> RecipeConfig:
    """Read YAML, apply overrides, pick the recipe's config class and validate.

    `resolve_recipe(name)` returns the config class of a recipe or raises `ConfigError`.
    """
    data = apply_overrides(read_yaml_mapping(path), overrides)
    name = data.get("recipe")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{path}: missing key 'recipe' naming what to run (see `gmrl list`)")
    config_class = resolve_recipe(name)
    return validate_config(config_class, data, str(path))


def dump_config(config: BaseModel) -> str:
    """The resolved config as YAML (what a run directory stores in `config.yaml`)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
