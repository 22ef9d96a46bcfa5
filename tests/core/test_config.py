"""Config loading: overrides, one-line errors with suggestions, robustness to random YAML."""

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import Field

from gmrl.core.config import (
    RecipeConfig,
    StrictModel,
    apply_overrides,
    load_config,
    parse_override,
    read_yaml_mapping,
)
from gmrl.core.errors import ConfigError


class Inner(StrictModel):
    hidden: int = 32
    rate: float = 0.1


class DemoConfig(RecipeConfig):
    epochs: int = Field(3, ge=1)
    model: Inner = Field(default_factory=Inner)


def resolve(name: str) -> type[RecipeConfig]:
    if name != "demo":
        raise ConfigError(f"unknown recipe '{name}'")
    return DemoConfig


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_overrides_are_typed_and_nested(tmp_path: Path) -> None:
    path = write(tmp_path, "recipe: demo\nmodel: {hidden: 8}\n")
    config = load_config(path, ["epochs=7", "model.rate=1e-3", "seed=4"], resolve)
    assert (config.epochs, config.model.hidden, config.model.rate, config.seed) == (7, 8, 1e-3, 4)


def test_parse_override_reads_yaml_values() -> None:
    assert parse_override("a.b=true") == (["a", "b"], True)
    assert parse_override("x=[1, 2]") == (["x"], [1, 2])
    with pytest.raises(ConfigError, match="key=value"):
        parse_override("novalue")


def test_apply_overrides_does_not_mutate_input() -> None:
    data = {"model": {"hidden": 1}}
    apply_overrides(data, ["model.hidden=2"])
    assert data == {"model": {"hidden": 1}}


@pytest.mark.parametrize(
    ("text", "overrides", "expected"),
    [
        ("recipe: demo\nepoch: 3\n", [], "unknown key 'epoch'; did you mean 'epochs'?"),
        ("recipe: demo\n", ["model.hiden=3"], "did you mean 'model.hidden'?"),
        ("recipe: demo\nepochs: many\n", [], "bad value 'many' for key 'epochs'"),
        ("recipe: demo\nepochs: 0\n", [], "key 'epochs'"),
        ("epochs: 3\n", [], "missing key 'recipe'"),
        ("recipe: demo\nepochs: [1, 2\n", [], "malformed YAML at line"),
        ("- just\n- a list\n", [], "top level must be a mapping"),
        ("recipe: nope\n", [], "unknown recipe 'nope'"),
    ],
)
def test_bad_configs_give_one_line_errors(
    tmp_path: Path, text: str, overrides: list[str], expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides, resolve)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        read_yaml_mapping(tmp_path / "absent.yaml")


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    document=st.one_of(
        st.text(max_size=80),
        yaml_values.map(lambda v: yaml.safe_dump(v)),
        st.dictionaries(
            st.sampled_from(["recipe", "seed", "epochs", "model", "device", "bogus"]),
            yaml_values,
            max_size=5,
        ).map(lambda d: yaml.safe_dump({"recipe": "demo", **d})),
    )
)
@example(document="model:\n ? '\n\n'\nrecipe: demo")  # a key holding newlines
def test_random_yaml_never_crashes(tmp_path: Path, document: str) -> None:
    """Whatever the file holds, the loader returns a config or raises a one-line ConfigError."""
    path = write(tmp_path, document)
    try:
        load_config(path, [], resolve)
    except ConfigError as exc:
        assert "\n" not in str(exc)


def test_seed_range_is_0_to_2_to_the_32_minus_1() -> None:
    """Seeds every seeded library accepts; anything else is refused naming the range (issue 24)."""
    from pydantic import ValidationError

    from gmrl.core.config import SEED_MAX, RecipeConfig

    assert SEED_MAX == 2**32 - 1
    assert RecipeConfig(recipe="x", seed=SEED_MAX).seed == SEED_MAX
    assert RecipeConfig(recipe="x", seed="12").seed == 12
    for bad in (-1, 2**32, 2**70, True, "2**70", 1.5):
        with pytest.raises(ValidationError, match=r"within 0 \.\.\. 4294967295"):
            RecipeConfig(recipe="x", seed=bad)


def test_every_number_has_a_range() -> None:
    """Numbers whose field declares no bound lie within +-10**9; floats are finite (issue 24)."""
    from pydantic import ValidationError

    from gmrl.core.config import NUMBER_LIMIT

    assert DemoConfig(recipe="demo", epochs=NUMBER_LIMIT).epochs == NUMBER_LIMIT
    for key, bad in (("epochs", NUMBER_LIMIT + 1), ("epochs", 10**18)):
        with pytest.raises(ValidationError, match=r"within -1_000_000_000 \.\.\. 1_000_000_000"):
            DemoConfig(recipe="demo", **{key: bad})
    for bad_rate in (-2e9, float("inf"), float("nan")):
        with pytest.raises(ValidationError):
            Inner(rate=bad_rate)
    with pytest.raises(ValidationError, match="10\\*\\*9"):
        Inner(hidden=2**40)


class Bounded(StrictModel):
    sizes: list[int] = Field(default_factory=lambda: [1, 2])
    budget: int = Field(5, ge=0, le=10**12)


def test_a_declared_bound_wins_and_lists_are_checked() -> None:
    from pydantic import ValidationError

    assert Bounded(budget=10**11).budget == 10**11  # the field's own range, not the default
    with pytest.raises(ValidationError, match=r"10\*\*9"):
        Bounded(sizes=[1, 10**10])


def test_every_shipped_recipe_config_refuses_a_huge_count() -> None:
    """Every recipe's config class carries the limit (it lives in the shared base class)."""
    from gmrl.core.config import NUMBER_LIMIT
    from gmrl.recipes import load_recipe, recipe_names

    for name in recipe_names():
        module = load_recipe(name)
        config_class = next(
            value for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, RecipeConfig)
            and value.__module__ == module.__name__
        )
        assert issubclass(config_class, StrictModel), name
        assert config_class.model_config.get("allow_inf_nan") is False, name
        assert NUMBER_LIMIT == 10**9
