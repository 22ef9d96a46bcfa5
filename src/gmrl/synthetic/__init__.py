"""Synthetic experience (combination 1): a generative model of real transitions feeds an
off-policy agent, mixed with real data at a chosen ratio.

- `SyntheticReplayBuffer`: a Stable-Baselines3 `replay_buffer_class` (SAC, TD3, DQN).
- `TransitionGenerator`: any vector model of the zoo fitted to whole transitions.
- `TransitionLayout`: transitions as flat vectors and back, within the spaces' bounds.
- `fidelity`: MMD and a classifier two-sample test between real and synthetic transitions.
"""

from gmrl.synthetic.buffer import SyntheticReplayBuffer
from gmrl.synthetic.config import SyntheticConfig, TransitionModelConfig
from gmrl.synthetic.fidelity import fidelity
from gmrl.synthetic.generator import TransitionGenerator
from gmrl.synthetic.layout import TransitionLayout, Transitions

__all__ = [
    "SyntheticConfig",
    "SyntheticReplayBuffer",
    "TransitionGenerator",
    "TransitionLayout",
    "TransitionModelConfig",
    "Transitions",
    "fidelity",
]
