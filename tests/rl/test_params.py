"""Typed hyper-parameters: one model per algorithm, defaults from the one place they live."""

import inspect

import pytest
from stable_baselines3 import DQN, SAC

from gmrl.core.config import validate_config
from gmrl.core.errors import ConfigError
from gmrl.rl import dynamic_programming, tabular
from gmrl.rl.mcts import MCTS
from gmrl.rl.params import ALGOS, params_dict, params_models, schedule
from gmrl.rl.sb3 import validate_sb3_params


def _defaults(function, skip=()):
    return {name: p.default for name, p in inspect.signature(function).parameters.items()
            if p.default is not inspect.Parameter.empty and name not in skip}


def test_every_algorithm_has_a_model_and_its_defaults_are_the_libraries():
    models = params_models()
    assert set(models) == set(ALGOS)
    dqn = params_dict(models["dqn"](algo="dqn"))
    for name, default in _defaults(DQN.__init__, ("seed", "device", "verbose",
                                                  "tensorboard_log", "_init_setup_model")).items():
        assert dqn[name] == default, name
    assert params_dict(models["value_iteration"]()) == _defaults(dynamic_programming
                                                                 .value_iteration)
    mcts = params_dict(models["mcts"]())
    assert mcts == _defaults(MCTS.__init__, ("value_fn", "prior_fn", "rollout_policy", "seed"))
    q = params_dict(models["q_learning"]())
    assert q == _defaults(tabular.q_learning, ("seed", "callback"))


@pytest.mark.parametrize(
    ("algo", "params", "expected"),
    [
        ("sac", {"learning_rate": float("inf")}, "finite positive"),
        ("sac", {"learning_rate": 0}, "finite positive"),
        ("dqn", {"gamma": 1.5}, "'gamma'"),
        ("dqn", {"exploration_fraction": -0.1}, "'exploration_fraction'"),
        ("sac", {"action_noise": {"type": "pink"}}, "action_noise"),
        ("sac", {"device": "cuda"}, "'device' is set by gmrl"),
    ],
)
def test_sb3_params_are_checked_in_one_way(algo, params, expected):
    with pytest.raises(ConfigError) as exc:
        validate_sb3_params(algo, params)
    assert expected in str(exc.value) and "\n" not in str(exc.value)


def test_yaml_friendly_values_are_accepted():
    checked = validate_sb3_params("sac", {"learning_rate": "3e-4", "policy": "MlpPolicy"})
    assert checked.learning_rate == pytest.approx(3e-4)  # YAML reads 3e-4 as a string
    assert validate_sb3_params("sac", {"learning_rate": "lin_1e-3"}).learning_rate == "lin_1e-3"
    assert SAC  # the class whose signature the model was generated from


def test_schedules_become_tabular_schedules():
    model = params_models()["sarsa"]
    params = validate_config(model, {"algo": "sarsa", "epsilon": {
        "type": "linear", "start": 1.0, "end": 0.1, "fraction": 0.5}}, "test")
    epsilon = schedule(params.epsilon)
    assert isinstance(epsilon, tabular.Linear) and epsilon.values(3)[-1] == pytest.approx(0.1)
    for bad in ({"type": "linear", "start": 2, "end": 0}, {"type": "cosine"}, 1.5):
        with pytest.raises(ConfigError, match="epsilon"):
            validate_config(model, {"algo": "sarsa", "epsilon": bad}, "test")
