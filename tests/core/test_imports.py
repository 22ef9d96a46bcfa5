"""import_object: user code named as 'package.module:name', with one-line errors."""

import sys

import pytest

from gmrl.core.errors import ConfigError, EnvError
from gmrl.core.imports import import_object


def test_imports_the_named_object():
    assert import_object("math:sqrt", "model.reward") is __import__("math").sqrt


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("math.sqrt", "must look like 'package.module:name'"),
        ("no_such_module_xyz:f", "cannot import module 'no_such_module_xyz'"),
        ("math:sqrtt", "has no 'sqrtt'; did you mean 'math:sqrt'?"),
    ],
)
def test_bad_paths_get_one_line_errors_naming_the_field(path, message):
    with pytest.raises(ConfigError) as info:
        import_object(path, "model.reward")
    assert message in str(info.value) and "model.reward" in str(info.value)
    assert "\n" not in str(info.value)


def test_a_module_that_raises_on_import_is_reported_with_the_chosen_error(tmp_path, monkeypatch):
    (tmp_path / "broken_user_mod.py").write_text("raise RuntimeError('boom\\nmore')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(EnvError, match=r"raised RuntimeError: boom$"):
        import_object("broken_user_mod:Env", "env", EnvError)
    sys.modules.pop("broken_user_mod", None)


def test_gmrl_object_resolves_gmrl_paths_only() -> None:
    from gmrl.core.imports import gmrl_object
    from gmrl.rl.rollout import PolicyFunction, evaluate_agent

    assert gmrl_object("gmrl.rl.rollout:evaluate_agent") is evaluate_agent
    assert gmrl_object("gmrl.rl.rollout:PolicyFunction.predict") is PolicyFunction.predict
    for outside in ("os:system", "gmrlx.mod:thing", "gmrl.rl.rollout"):
        with pytest.raises(ValueError, match=r"is not a 'gmrl\.module:Name' path"):
            gmrl_object(outside)
    with pytest.raises(AttributeError):
        gmrl_object("gmrl.rl.rollout:no_such_thing")
