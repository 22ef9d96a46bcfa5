"""gmrl: generative models meet reinforcement learning.

Four combinations, each end to end and measured: generative models producing synthetic RL data,
RL training generative models (SeqGAN, KL-regularised reward tuning), generative world models
inside the agent, and RL-tuned creative generators. See the README and docs/ for a tour.

Every agent honours one contract (`gmrl.core.agent.Agent`, docs/api.md): `learn`, `predict`,
`save` and `load`. This package names them all and loads any saved one:

```python
agent = gmrl.make_agent({"agent": "ppo", "params": {"n_steps": 256}}, gym.make("CartPole-v1"))
agent.learn(10_000).save("runs/ppo")
agent = gmrl.load("runs/ppo")          # whichever agent the directory holds
```

Importing gmrl stays cheap: agent classes are imported on first use (`gmrl.SB3Agent`,
`gmrl.load`, ...), and the registry names them by "module:Class" strings.
"""

import difflib
import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gmrl.core.agent import Agent

__version__ = "0.1.0"

AGENT_CLASSES: dict[str, str] = {
    "q_learning": "gmrl.rl.tabular.agent:QLearningAgent",
    "sarsa": "gmrl.rl.tabular.agent:SarsaAgent",
    "reinforce": "gmrl.rl.policy_gradient.contract:ReinforceAgent",
    "actor_critic": "gmrl.rl.policy_gradient.contract:ActorCriticAgent",
    "mcts": "gmrl.rl.mcts:MCTSAgent",
    "sb3": "gmrl.rl.sb3.agent:SB3Agent",
    "synthetic": "gmrl.synthetic.agent:SyntheticAgent",
    "tdmpc": "gmrl.worldmodel.tdmpc.agent:TDMPCAgent",
    "worldmodel": "gmrl.worldmodel.contract:WorldModelAgent",
    "worldmodel_pixels": "gmrl.worldmodel.pixel_contract:PixelWorldModelAgent",
}
"""Registered agent name (the `name` a saved agent's manifest records) -> "module:Class"."""

SB3_ALIASES = ("ppo", "a2c", "dqn", "sac", "td3")
"""`make_agent` names for `SB3Agent` with that `algo`."""

_EXPORTS = {path.rsplit(":", 1)[1]: path for path in AGENT_CLASSES.values()}

__all__ = ["AGENT_CLASSES", "SB3_ALIASES", "__version__", "agent_class", "load", "make_agent",
           *sorted(_EXPORTS)]


def _resolve(path: str) -> "type[Agent]":
    from gmrl.core.imports import gmrl_object

    cls: type[Agent] = gmrl_object(path)
    return cls


def agent_class(name: str) -> "type[Agent]":
    """The agent class registered as `name` (a `ConfigError` with a suggestion otherwise)."""
    from gmrl.core.errors import ConfigError

    if name not in AGENT_CLASSES:
        close = difflib.get_close_matches(str(name), [*AGENT_CLASSES, *SB3_ALIASES], n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"unknown agent '{name}'{hint} (registered: "
                          f"{', '.join([*AGENT_CLASSES, *SB3_ALIASES])})")
    return _resolve(AGENT_CLASSES[name])


def make_agent(config: Mapping[str, Any], env: Any = None) -> "Agent":
    """A new agent from `{"agent": name, **settings}` acting in `env`.

    `name` is a key of `AGENT_CLASSES`, or an SB3 algorithm (ppo, a2c, dqn, sac, td3: an
    `SB3Agent` with that `algo`). The settings are the class's keyword arguments: it is called as
    `Class(env, **settings)`, or `Class.from_env(env, **settings)` where it has one (`MCTSAgent`,
    whose constructor takes a planner).
    """
    from gmrl.core.errors import ConfigError

    settings = dict(config)
    name = settings.pop("agent", None)
    if not isinstance(name, str):
        raise ConfigError("make_agent needs config['agent']: the agent's registered name "
                          f"({', '.join([*AGENT_CLASSES, *SB3_ALIASES])})")
    if name in SB3_ALIASES:
        settings["algo"] = name
        name = "sb3"
    cls = agent_class(name)
    maker: Any = getattr(cls, "from_env", None) or cls
    try:
        inspect.signature(maker).bind(env, **settings)
    except TypeError as exc:
        raise ConfigError(f"agent '{name}' settings: {exc}") from exc
    agent: Agent = maker(env, **settings)
    return agent


def load(path: str | Path, env: Any = None) -> "Agent":
    """Load any saved agent: the manifest names its class (`AGENT_CLASSES`), whose `load`
    checks every file's sha256 and rebuilds it. A bad path is a one-line `CheckpointError`."""
    from gmrl.core.agent import read_manifest
    from gmrl.core.errors import CheckpointError

    name = read_manifest(path).get("agent")
    if name not in AGENT_CLASSES:
        raise CheckpointError(
            f"'{path}' holds a '{name}' agent, unknown to this gmrl version (known: "
            f"{', '.join(AGENT_CLASSES)}): load it with the gmrl that saved it"
        )
    return _resolve(AGENT_CLASSES[str(name)]).load(path, env=env)


def __getattr__(name: str) -> Any:
    """The agent classes (`gmrl.SB3Agent`, `gmrl.TDMPCAgent`...), imported on first use."""
    if name in _EXPORTS:
        return _resolve(_EXPORTS[name])
    raise AttributeError(f"module 'gmrl' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
