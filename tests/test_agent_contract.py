"""Every gmrl agent honours one contract (`gmrl.core.agent.Agent`, docs/api.md).

For each registered agent, at a tiny budget: `gmrl.make_agent` -> `learn` -> `predict` (one
observation and a batch, repeatable) -> `save` -> `gmrl.load` and `Class.load` -> the same
deterministic actions -> SB3's `evaluate_policy` on a VecEnv -> learning goes on after loading.
Bad saves (a missing path, a directory without manifest, a foreign file, a flipped byte, another
agent's save) are refused with one-line `CheckpointError`s. The examples of docs/api.md run.
"""

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

import gmrl
from gmrl.core.agent import Agent, read_manifest, save_agent_files
from gmrl.core.errors import CheckpointError, ConfigError

ROOT = Path(__file__).resolve().parents[1]

# tests/worldmodel/test_tdmpc.py's TINY: small enough for a few seconds on one core
TDMPC_TINY = {"latent_dim": 16, "hidden": 32, "batch_size": 32, "seed_steps": 40, "samples": 16,
              "policy_samples": 4, "elites": 4, "iterations": 2, "bins": 21, "num_q": 2}

# configs/worldmodel/default.yaml's agent keys (everything learned), shrunk to a few seconds
WORLDMODEL_TINY: dict[str, Any] = {
    "model": {"ensemble_size": 2, "hidden": 16, "layers": 2, "max_epochs": 2,
              "reward": "learned", "termination": "learned"},
    "planner": {"horizon": 4, "population": 16, "elites": 4, "iterations": 1, "noise_beta": 2.0},
    "value": {"enabled": True, "updates": 5, "hidden": 16},
    "initial_steps": 20, "fit_every": 20}

# tests/recipes/test_worldmodel_pixels.py's TINY (16x32 frames, CartPole capped at 20 steps): with
# 2 random episodes (at most 40 steps) a budget of 50 reaches at least one iteration (PPO trained)
PIXELS_TINY: dict[str, Any] = {
    "random_episodes": 2, "episodes_per_iteration": 1,
    "model": {"first_vae_steps": 1, "vae_steps": 1, "first_rnn_steps": 4, "rnn_steps": 2,
              "hidden": 16, "vae_channels": 4},
    "controller": {"dream_steps": 64, "num_envs": 2,
                   "ppo": {"n_steps": 32, "batch_size": 32, "n_epochs": 1}}}


@dataclass(frozen=True)
class Case:
    """One agent at a tiny budget: its config, env, budget and observations to compare on."""

    config: dict[str, Any]
    make_env: Callable[[], gym.Env]
    budget: int
    observations: Callable[[], np.ndarray] = field(default=lambda: np.zeros(0))


def resets(make_env: Callable[[], gym.Env], count: int = 5) -> Callable[[], np.ndarray]:
    """First observations of `count` seeded episodes: a fixed batch."""
    return lambda: np.stack([make_env().reset(seed=seed)[0] for seed in range(count)])


def frozen_lake() -> gym.Env:
    return gym.make("FrozenLake-v1")


def cliff() -> gym.Env:
    return gym.make("CliffWalking-v1", max_episode_steps=100)  # a greedy walk may loop forever


def cartpole() -> gym.Env:
    return gym.make("CartPole-v1")


def short_cartpole() -> gym.Env:
    return gym.make("CartPole-v1", max_episode_steps=30)


def pendulum() -> gym.Env:
    return gym.make("Pendulum-v1", max_episode_steps=50)


def pixel_cartpole() -> gym.Env:
    from gmrl.worldmodel.pixels import make_pixel_env

    return make_pixel_env("CartPole-v1", size=(16, 32), action_repeat=3, max_episode_steps=20)


CASES = {
    "q_learning": Case(
        {"agent": "q_learning", "episodes": 50, "alpha": 0.5,
         "epsilon": {"type": "linear", "start": 1.0, "end": 0.1}},
        frozen_lake, 300, lambda: np.arange(16)),
    "sarsa": Case({"agent": "sarsa", "episodes": 50, "alpha": 0.5, "epsilon": 0.1}, cliff, 300,
                  lambda: np.arange(48)),
    "reinforce": Case({"agent": "reinforce", "params": {"num_envs": 2}, "device": "cpu"},
                      cartpole, 100, resets(cartpole)),
    "actor_critic": Case(
        {"agent": "actor_critic", "params": {"num_envs": 2, "n_steps": 8}, "device": "cpu"},
        pendulum, 64, resets(pendulum)),
    "mcts": Case({"agent": "mcts", "n_simulations": 8, "max_depth": 10, "rollouts_per_leaf": 1},
                 short_cartpole, 10, resets(short_cartpole)),
    "ppo": Case({"agent": "ppo", "params": {"n_steps": 32, "batch_size": 32, "n_epochs": 1},
                 "device": "cpu"}, cartpole, 64, resets(cartpole)),
    "dqn": Case({"agent": "dqn", "params": {"learning_starts": 10, "buffer_size": 200,
                                            "batch_size": 16, "train_freq": 4},
                 "device": "cpu"}, cartpole, 64, resets(cartpole)),
    "sac": Case({"agent": "sac", "params": {"learning_starts": 10, "buffer_size": 200,
                                            "batch_size": 16,
                                            "policy_kwargs": {"net_arch": [32, 32]}},
                 "device": "cpu"}, pendulum, 30, resets(pendulum)),
    "synthetic": Case({"agent": "synthetic", "algo": "sac", "utd": 2, "device": "cpu",
                       "params": {"learning_starts": 10, "buffer_size": 200, "batch_size": 16,
                                  "policy_kwargs": {"net_arch": [16]}},
                       "synthetic": {"min_real": 20, "refit_every": 20, "pool_size": 64,
                                     "fidelity_samples": 16, "generator": {
                                         "fit_steps": 5, "first_fit_steps": 5,
                                         "batch_size": 16, "params": {
                                             "hidden": 16, "layers": 1, "timesteps": 4}}}},
                      pendulum, 40, resets(pendulum)),
    "tdmpc": Case({"agent": "tdmpc", "config": TDMPC_TINY, "device": "cpu"}, pendulum, 50,
                  resets(pendulum)),
    "worldmodel": Case({"agent": "worldmodel", "config": WORLDMODEL_TINY, "device": "cpu"},
                       cartpole, 50, resets(cartpole)),
    "worldmodel_pendulum": Case(
        {"agent": "worldmodel", "config": {**WORLDMODEL_TINY, "model": {
            **WORLDMODEL_TINY["model"], "reward": "known", "termination": "known"}},
         "device": "cpu"}, pendulum, 50, resets(pendulum)),
    "worldmodel_dream": Case(
        {"agent": "worldmodel", "config": {
            **WORLDMODEL_TINY, "mode": "dream", "value": {"enabled": False},
            "dream": {"algo": "sac", "envs": 4, "horizon": 3, "steps": 16, "gradient_steps": 1,
                      "params": {"learning_starts": 0, "batch_size": 8,
                                 "policy_kwargs": {"net_arch": [16, 16]}}}},
         "device": "cpu"}, pendulum, 50, resets(pendulum)),
    "worldmodel_pixels": Case({"agent": "worldmodel_pixels", "config": PIXELS_TINY,
                               "device": "cpu"}, pixel_cartpole, 50, resets(pixel_cartpole)),
}


def same_actions(agent: Agent, other: Agent, observations: np.ndarray) -> None:
    first, _ = agent.predict(observations, deterministic=True)
    second, _ = other.predict(observations, deterministic=True)
    np.testing.assert_array_equal(first, second)


def refused(call: Callable[[], Any], match: str) -> None:
    with pytest.raises(CheckpointError, match=match) as caught:
        call()
    assert "\n" not in str(caught.value), str(caught.value)


@pytest.mark.parametrize("case_name", list(CASES))
def test_learn_predict_save_load_evaluate(case_name: str, tmp_path: Path) -> None:
    case = CASES[case_name]
    agent = gmrl.make_agent(case.config, case.make_env())
    cls = type(agent)
    assert isinstance(agent, Agent) and gmrl.AGENT_CLASSES[cls.name].endswith(cls.__name__)
    seen: list[int] = []
    assert agent.learn(case.budget, callback=lambda a: seen.append(a.num_timesteps)) is agent
    if cls.name == "mcts":  # a planner: learn takes no step and calls nothing
        assert agent.num_timesteps == 0 and seen == []
    elif cls.name in ("q_learning", "sarsa"):  # exactly the budget, an episode may be cut
        assert agent.num_timesteps == case.budget and seen == list(range(1, case.budget + 1))
    else:  # whole iterations / rollouts: at least the budget
        assert agent.num_timesteps >= case.budget and seen and seen[-1] == agent.num_timesteps

    observations = case.observations()
    before, _ = agent.predict(observations, deterministic=True)  # state: tdmpc's plan, or None
    assert len(before) == len(observations)
    same_actions(agent, agent, observations)  # deterministic = repeatable
    single, _ = agent.predict(observations[0], deterministic=True)
    assert case.make_env().action_space.contains(single), single
    sampled, _ = agent.predict(observations, deterministic=False)
    assert np.shape(sampled) == np.shape(before)

    path = agent.save(tmp_path / "agent")
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "manifest.json",
                                                      "weights.safetensors"]
    assert read_manifest(path)["agent"] == cls.name
    json.loads((path / "config.json").read_text())  # plain JSON
    anywhere = gmrl.load(path)
    assert type(anywhere) is cls
    same_actions(agent, anywhere, observations)
    loaded = cls.load(path, env=case.make_env())
    same_actions(agent, loaded, observations)
    assert loaded.num_timesteps == agent.num_timesteps

    vec_env = DummyVecEnv([lambda: Monitor(case.make_env())])
    mean, std = evaluate_policy(loaded, vec_env, n_eval_episodes=2)
    assert np.isfinite(mean) and np.isfinite(std)

    steps = loaded.num_timesteps
    loaded.learn(case.budget // 4)  # a loaded agent learns on in the env it was given
    assert loaded.num_timesteps == steps if cls.name == "mcts" else loaded.num_timesteps > steps

    # tampering and mix-ups: one line each
    flipped = Path(shutil.copytree(path, tmp_path / "flipped"))
    weights = flipped / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 1
    weights.write_bytes(bytes(data))
    refused(lambda: gmrl.load(flipped), "does not match its sha256")
    refused(lambda: cls.load(flipped), "does not match its sha256")
    other = gmrl.agent_class("sarsa" if cls.name == "q_learning" else "q_learning")
    refused(lambda: other.load(path), f"holds a '{cls.name}' agent, not '{other.name}'")


@pytest.mark.parametrize("name", [None, *gmrl.AGENT_CLASSES])
def test_bad_paths_are_one_line_checkpoint_errors(name: str | None, tmp_path: Path) -> None:
    load = gmrl.load if name is None else gmrl.agent_class(name).load
    refused(lambda: load(tmp_path / "missing"), "does not exist")
    (tmp_path / "empty").mkdir()
    refused(lambda: load(tmp_path / "empty"), "not a saved gmrl agent")
    foreign = tmp_path / "foreign.zip"
    foreign.write_bytes(b"PK\x03\x04 an SB3 zip, say")
    refused(lambda: load(foreign), "not a saved gmrl agent")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "manifest.json").write_text('{"format": "something else"}')
    refused(lambda: load(tmp_path / "other"), "not a gmrl agent manifest")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "manifest.json").write_text("{not json")
    refused(lambda: load(tmp_path / "broken"), "not valid JSON")


def test_registry_names_every_agent_once_and_import_stays_light(tmp_path: Path) -> None:
    for name in gmrl.AGENT_CLASSES:
        cls = gmrl.agent_class(name)
        assert issubclass(cls, Agent) and cls.name == name
        assert getattr(gmrl, cls.__name__) is cls
    assert len({gmrl.agent_class(n) for n in gmrl.AGENT_CLASSES}) == len(gmrl.AGENT_CLASSES)
    check = ("import sys, gmrl; heavy = [m for m in ('torch', 'stable_baselines3', 'gymnasium') "
             "if m in sys.modules]; assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", check], check=True, timeout=60)

    with pytest.raises(ConfigError, match="did you mean 'sarsa'"):
        gmrl.make_agent({"agent": "sarsaa"}, frozen_lake())
    with pytest.raises(ConfigError, match="config\\['agent'\\]"):
        gmrl.make_agent({"episodes": 3}, frozen_lake())
    with pytest.raises(ConfigError, match="episods"):
        gmrl.make_agent({"agent": "q_learning", "episods": 3}, frozen_lake())
    save_agent_files(tmp_path / "mystery", "mystery", {}, {})
    refused(lambda: gmrl.load(tmp_path / "mystery"), "'mystery' agent, unknown to this gmrl")


def test_mcts_refuses_to_save_what_it_cannot_rebuild(tmp_path: Path) -> None:
    from gmrl.rl.mcts import MCTS, MCTSAgent
    from gmrl.rl.search_model import CartPoleModel

    bare = MCTSAgent(MCTS(CartPoleModel(), n_simulations=4))  # no env to rebuild the model from
    refused(lambda: bare.save(tmp_path / "bare"), "cannot rebuild from an env")
    valued = MCTSAgent.from_env(cartpole(), n_simulations=4)
    valued.planner.value_fn = lambda states: np.zeros(len(states))
    refused(lambda: valued.save(tmp_path / "valued"), "with value_fn")


def api_examples() -> list[str]:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


@pytest.mark.parametrize("index", range(len(api_examples())))
def test_docs_api_examples_run(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                               ) -> None:
    monkeypatch.chdir(tmp_path)  # examples save under runs/
    exec(compile(api_examples()[index], f"docs/api.md example {index + 1}", "exec"), {})


def _scramble_global_rngs(value: int) -> None:
    """Leave Python's, NumPy's and torch's global generators in some state (as earlier work in
    the same process would)."""
    import random

    import torch

    random.seed(value)
    np.random.seed(value)
    torch.manual_seed(value)


def _global_draws() -> tuple[float, float, float]:
    import random

    import torch

    return random.random(), float(np.random.rand()), float(torch.rand(1))


@pytest.mark.parametrize("case_name", list(CASES))
def test_the_same_seed_gives_the_same_agent_whatever_ran_before(
        case_name: str, tmp_path: Path) -> None:
    """An agent's `seed` decides everything it does: two agents built with one seed learn the
    same weights and act the same whatever state the global random generators were left in (a
    benchmark worker, a notebook cell run twice); and it leaves those generators as they were."""
    from safetensors.numpy import load_file

    case = CASES[case_name]
    actions, weights = [], []
    for value in (1, 2):
        _scramble_global_rngs(value + 10)
        untouched = _global_draws()  # what the caller's generators give next if left alone
        _scramble_global_rngs(value)
        agent = gmrl.make_agent(case.config, case.make_env())
        _scramble_global_rngs(value + 10)
        agent.learn(case.budget)
        actions.append(agent.predict(case.observations(), deterministic=True)[0])
        agent.predict(case.observations(), deterministic=False)
        assert _global_draws() == untouched, "the agent drew from the global generators"
        weights.append(load_file(agent.save(tmp_path / f"agent{value}") / "weights.safetensors"))
    np.testing.assert_array_equal(actions[0], actions[1])
    assert weights[0].keys() == weights[1].keys()
    for key in weights[0]:
        np.testing.assert_array_equal(weights[0][key], weights[1][key], err_msg=key)
