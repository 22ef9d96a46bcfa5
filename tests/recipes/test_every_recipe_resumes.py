"""The exact-resume contract covers every recipe: a new recipe cannot land without its test.

Each recipe's own module (tests/recipes/test_<name>.py) parametrises `assert_exact_resume` over
Ctrl-C and crash stops at its phases (pre-training vs tuning, MLE vs adversarial rounds, inside
an SB3 rollout...). This test ties that set to `gmrl list`: every discovered recipe must call
the shared helper on its own module.
"""

import re
from pathlib import Path

import pytest

from gmrl.recipes import recipe_names

HERE = Path(__file__).parent


@pytest.mark.parametrize("name", recipe_names())
def test_recipe_has_an_exact_resume_test(name: str) -> None:
    module_test = HERE / f"test_{name}.py"
    assert module_test.is_file(), f"recipe '{name}' has no tests/recipes/test_{name}.py"
    source = module_test.read_text()
    assert re.search(rf"assert_exact_resume\(\s*{name}\b", source), (
        f"tests/recipes/test_{name}.py never calls assert_exact_resume({name}, ...)"
    )
    assert "crash" in source, f"recipe '{name}': resume after a crash is not tested"
