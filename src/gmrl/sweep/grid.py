"""Sweep grids: `--grid key=v1,v2` options into grid points, each a list of `gmrl run` overrides.

Values stay as the text the user typed (`1e-3`, `vae`, `[64,64]`) and become typed values through
the same YAML override parser as `gmrl run` (`gmrl.core.config.parse_override`), so `lr=1e-3` in a
grid means exactly what it means on the `gmrl run` command line. Commas inside brackets or quotes
do not split values (`model.params.hidden=[64,64],[128]` is two values).
"""

import hashlib
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gmrl.core.config import parse_override
from gmrl.core.errors import ConfigError

# Keys a grid may not vary: seeds come from --seeds, and a sweep runs one recipe.
RESERVED_KEYS = {"seed": "use --seeds N for seeds", "recipe": "a sweep runs one recipe"}
_SAFE = re.compile(r"[^A-Za-z0-9._+-]")
_MAX_LABEL = 80


@dataclass(frozen=True)
class Point:
    """One grid point: `(key, raw value)` pairs in grid order, and its directory-safe label."""

    label: str
    values: tuple[tuple[str, str], ...]

    @property
    def overrides(self) -> list[str]:
        """The point as `gmrl run` overrides (`key=value`)."""
        return [f"{key}={value}" for key, value in self.values]

    def params(self) -> dict[str, Any]:
        """The point's values, typed as `gmrl run` would read them."""
        return {key: parse_override(f"{key}={value}")[1] for key, value in self.values}


def split_values(text: str) -> list[str]:
    """Split `v1,v2,...` on the commas outside brackets, braces and quotes."""
    values: list[str] = []
    depth, quote = 0, ""
    current: list[str] = []
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            values.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    values.append("".join(current).strip())
    return values


def parse_grid(options: Sequence[str]) -> dict[str, list[str]]:
    """`["a=1,2", "b.c=x"]` -> `{"a": ["1", "2"], "b.c": ["x"]}`, refusing malformed options."""
    grid: dict[str, list[str]] = {}
    for option in options:
        if "=" not in option:
            raise ConfigError(f"--grid '{option}' must look like key=v1,v2 (e.g. epochs=20,40)")
        parts, _ = parse_override(option)  # the same key rules as a `gmrl run` override
        key = ".".join(part.strip() for part in parts)
        if key in RESERVED_KEYS:
            raise ConfigError(f"--grid '{option}': '{key}' cannot be swept: {RESERVED_KEYS[key]}")
        if key in grid:
            raise ConfigError(f"--grid names '{key}' twice: give all its values in one option")
        values = split_values(option.split("=", 1)[1])
        if any(not value for value in values):
            raise ConfigError(f"--grid '{option}' has an empty value: list values like a,b,c")
        if len(set(values)) != len(values):
            raise ConfigError(f"--grid '{option}' repeats a value: list each value once")
        grid[key] = values
    return grid


def point_label(values: Sequence[tuple[str, str]]) -> str:
    """A directory name for a point, e.g. `model.name-vae_epochs-20` (`base` for no grid).

    Characters a file name should not hold become `~`, and then (or when the label is long) a
    hash of the exact values keeps distinct points apart.
    """
    if not values:
        return "base"
    raw = "_".join(f"{key}-{value}" for key, value in values)
    label = _SAFE.sub("~", raw)
    if label != raw or len(label) > _MAX_LABEL:
        digest = hashlib.sha1(repr(tuple(values)).encode()).hexdigest()[:8]
        label = f"{label[:_MAX_LABEL]}-{digest}"
    return label


def grid_points(grid: dict[str, list[str]]) -> list[Point]:
    """Every combination of the grid's values, in the order the keys and values were given."""
    keys = list(grid)
    points = [
        Point(point_label(list(zip(keys, combo, strict=True))),
              tuple(zip(keys, combo, strict=True)))
        for combo in itertools.product(*(grid[key] for key in keys))
    ]
    if len({point.label for point in points}) != len(points):  # pragma: no cover - defensive
        raise ConfigError("two grid points got the same directory name: rename a value")
    return points


def point_of(grid: dict[str, list[str]], chosen: dict[str, str]) -> Point:
    """The point with the values `chosen` (a search algorithm's pick), in grid order."""
    values = tuple((key, chosen[key]) for key in grid)
    return Point(point_label(values), values)
