"""The synthetic-experience agent on gmrl's agent contract: an off-policy SB3 agent (SAC, TD3,
DQN) whose replay buffer mixes generated transitions into every minibatch.

```python
agent = gmrl.make_agent({"agent": "synthetic", "algo": "sac", "utd": 10,
                         "synthetic": {"ratio": 0.5}}, gym.make("Pendulum-v1"))
agent.learn(5_000).save("runs/pendulum_synthetic")
agent = gmrl.load("runs/pendulum_synthetic")       # a SyntheticAgent again
```

It is an `SB3Agent` (same `learn`, `predict`, seeding and saved format) whose params carry the
two settings the `synthetic` recipe makes first-class: `utd`, the update-to-data ratio (SB3's
`gradient_steps` per env step, `train_freq` 1), and `synthetic` (a `SyntheticConfig`), which
installs `SyntheticReplayBuffer` (named "synthetic" in the params, so the saved config stays
plain JSON; this class maps the name to the buffer). As for every SB3 agent, a saved agent
keeps its weights, not its buffer: a loaded one acts exactly as the saved one and learns on
from an empty buffer and an unfitted generator.
"""

from typing import Any

import gymnasium as gym
from pydantic import BaseModel

from gmrl.core.config import validate_config
from gmrl.core.errors import ConfigError
from gmrl.core.seeding import derive_seed
from gmrl.rl.sb3.agent import SB3Agent
from gmrl.rl.sb3.factory import ReplayBuffers
from gmrl.synthetic.buffer import SyntheticReplayBuffer
from gmrl.synthetic.config import SyntheticConfig

OFF_POLICY = ("sac", "td3", "dqn")
_OWNED = ("replay_buffer_class", "replay_buffer_kwargs", "gradient_steps", "train_freq")


class SyntheticAgent(SB3Agent):
    """SAC, TD3 or DQN trained on real plus generated transitions (see the module).

    Args:
        env: a Gymnasium id, or an env made by `gymnasium.make`.
        algo: sac, td3 (Box actions) or dqn (Discrete actions).
        params: the algorithm's SB3 hyper-parameters, less those this agent sets.
        synthetic: the `SyntheticConfig` settings (generator, ratio, refits, fidelity guard).
        utd: gradient steps per real env step.
        env_kwargs, seed, device, verbose: as for `SB3Agent`.
    """

    name = "synthetic"

    def __init__(
        self, env: str | gym.Env | None = None, algo: str = "sac",
        params: dict[str, Any] | BaseModel | None = None, *,
        synthetic: dict[str, Any] | SyntheticConfig | None = None, utd: int = 10,
        env_kwargs: dict[str, Any] | None = None, seed: int = 0, device: str = "auto",
        verbose: int = 0,
    ) -> None:
        if algo not in OFF_POLICY:
            raise ConfigError(f"the synthetic agent needs an off-policy algorithm with a replay "
                              f"buffer ({', '.join(OFF_POLICY)}), not '{algo}'")
        if isinstance(params, BaseModel):
            params = params.model_dump(mode="json", exclude={"algo"}, exclude_unset=True)
        params = dict(params or {})
        if params.get("replay_buffer_class") != "synthetic":  # a new agent, not a loaded one
            clash = sorted(set(params) & set(_OWNED))
            if clash:
                raise ConfigError(f"params.{clash[0]} is set by the synthetic agent: use utd "
                                  "(gradient steps per env step) and synthetic instead")
            if isinstance(utd, bool) or not isinstance(utd, int) or utd < 1:
                raise ConfigError(f"utd must be a whole number of gradient steps >= 1 (got "
                                  f"{utd!r})")
            settings = synthetic if isinstance(synthetic, SyntheticConfig) else validate_config(
                SyntheticConfig, dict(synthetic or {}), "synthetic")
            buffer = settings.model_dump(mode="json")
            # the generator's own stream, from the agent's seed; below 10**9, the range every
            # number of a config (and of the SB3 params that carry it) must keep
            buffer["seed"] = derive_seed(int(seed), f"synthetic/{settings.seed}") % 10**9
            params.update(replay_buffer_class="synthetic", replay_buffer_kwargs=buffer,
                          gradient_steps=utd, train_freq=1)
        elif synthetic is not None:
            raise ConfigError("give either params with a synthetic replay buffer (a saved "
                              "agent's) or synthetic settings, not both")
        super().__init__(env, algo, params, env_kwargs=env_kwargs, seed=seed, device=device,
                         verbose=verbose)

    @classmethod
    def replay_buffers(cls) -> ReplayBuffers:
        """The buffer class "synthetic" names in this agent's params."""
        return {"synthetic": SyntheticReplayBuffer}
