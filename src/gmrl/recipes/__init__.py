"""Recipes: runnable experiments, one module each.

A recipe module `gmrl.recipes.<name>` defines:

- `SUMMARY: str` — one line for `gmrl list`;
- `Config` — a pydantic model subclassing `gmrl.core.config.RecipeConfig`;
- `run(config, run: RunDir) -> dict[str, float]` — does the work inside a
  `gmrl.core.loop.TrainingLoop` (progress, logging, checkpoints, Ctrl-C, `loop.resume()` from the
  last checkpoint when there is one) and returns the summary;
- optionally `prepare(config)` — checks that must fail before a run directory is created.

Recipes are found by module name, so adding one needs no registry edit.
"""

import importlib
import pkgutil
from types import ModuleType

from gmrl.core.errors import ConfigError


def recipe_names() -> list[str]:
    """Names of all recipe modules in this package."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def load_recipe(name: str) -> ModuleType:
    """Import the recipe `name`, or raise a one-line `ConfigError` with a suggestion."""
    names = recipe_names()
    if name not in names:
        import difflib

        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"unknown recipe '{name}'{hint} (available: {', '.join(names)})")
    module = importlib.import_module(f"{__name__}.{name}")
    for attribute in ("Config", "run"):
        if not hasattr(module, attribute):
            raise ConfigError(f"recipe module '{name}' lacks '{attribute}': it is not a recipe")
    return module
