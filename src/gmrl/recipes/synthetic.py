"""Recipe `synthetic`: an off-policy SB3 agent trained on real + generated transitions.

```
gmrl run configs/synthetic/pendulum.yaml                       # SAC + diffusion, UTD 10
gmrl run configs/synthetic/pendulum.yaml synthetic.ratio=0     # same UTD, real data only
gmrl run configs/synthetic/pendulum.yaml synthetic.generator.name=vae
gmrl run configs/synthetic/inverted_pendulum.yaml              # MuJoCo (gymnasium[mujoco])
```

It is the `rl` recipe's SB3 path (same evaluation, logging, checkpoints, Ctrl-C and exact
resume) with two settings made first-class: `utd`, the update-to-data ratio (SB3's
`gradient_steps` per env step, `train_freq` 1), and `synthetic` (`SyntheticConfig`), which
installs `gmrl.synthetic.SyntheticReplayBuffer` as the agent's replay buffer. Checkpoints hold
the real buffer's contents, the generator (weights, optimizer, RNG) and the synthetic pool.

Logged beside the usual RL curves at each refit: the generator's loss, the refit's seconds
(TensorBoard), the fraction of generated rows clipped into the spaces' bounds, fidelity (MMD
and a classifier's accuracy at telling generated from held-out real transitions) and
`synthetic/share`, the synthetic fraction of each batch the fidelity guard keeps in force. The
summary adds `steps_to_target` (with `target_return`), the refit count, the last fidelity
figures, the share, the guard's cuts, the synthetic rows sampled and, as `time/` keys, the
wall-clock of the run and of the generator's refits.

`algo` is one of SB3's off-policy agents, `sac`, `td3` (Box actions) or `dqn` (Discrete
actions); on-policy ones (ppo, a2c) have no replay buffer to feed and are refused by name.
"""

import time
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from gmrl.core.rundir import RunDir
from gmrl.core.seeding import derive_seed
from gmrl.recipes import rl
from gmrl.synthetic.config import SyntheticConfig

SUMMARY = "off-policy SB3 agent (SAC/TD3/DQN) fed synthetic transitions by a generative model"


class Config(rl.Config):
    """An `rl` config for an off-policy SB3 agent plus the update-to-data ratio and the
    synthetic-experience settings."""

    recipe: Literal["synthetic"] = "synthetic"  # type: ignore[assignment]
    algo: Literal["sac", "td3", "dqn"] = Field(
        "sac", description="off-policy SB3 algorithm"
    )
    utd: int = Field(10, ge=1, description="gradient steps per real env step (update-to-data)")
    synthetic: SyntheticConfig = Field(default_factory=SyntheticConfig)

    @model_validator(mode="before")
    @classmethod
    def _default_params(cls, data: object) -> object:
        """`algo` defaults to sac and `params` to the algorithm's SB3 defaults."""
        if isinstance(data, dict):
            algo = data.get("algo", "sac")
            params = data.get("params")
            params = {} if params is None else params
            if isinstance(params, dict):
                params = {**params, "algo": algo}
            data = {**data, "algo": algo, "params": params}
        return data

    @model_validator(mode="after")
    def _owned_keys(self) -> "Config":
        given = self.params.model_fields_set
        owned = {"replay_buffer_class", "replay_buffer_kwargs", "gradient_steps", "train_freq"}
        clash = sorted(given & owned)
        if clash:
            raise ValueError(
                f"params.{clash[0]} is set by this recipe: use utd (gradient steps per env "
                "step) and the synthetic section instead"
            )
        return self

    def sb3_params(self) -> BaseModel:
        """The user's SB3 params plus the synthetic buffer and the update-to-data ratio."""
        buffer = self.synthetic.model_dump(mode="json")
        buffer["seed"] = derive_seed(self.seed, f"synthetic/{self.synthetic.seed}")
        return self.params.model_copy(update={
            "replay_buffer_class": "synthetic", "replay_buffer_kwargs": buffer,
            "gradient_steps": self.utd, "train_freq": 1,
        })


prepare = rl.prepare


def run(config: Config, run: RunDir) -> dict[str, float]:
    """Train as the `rl` recipe does (its summary includes the buffer's `summary()`)."""
    start = time.perf_counter()
    summary = rl.run(config, run)
    summary["time/run_seconds"] = time.perf_counter() - start
    return summary
