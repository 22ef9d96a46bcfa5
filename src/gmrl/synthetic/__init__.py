"""Synthetic experience (combination 1): a generative model of real transitions feeds an
off-policy agent, mixed with real data at a chosen ratio.

- `SyntheticReplayBuffer`: a Stable-Baselines3 `replay_buffer_class` (SAC, TD3, DQN).
- `TransitionGenerator`: any vector model of the zoo fitted to whole transitions.
- `TransitionLayout`: transitions as flat vectors and back, within the spaces' bounds.
- `fidelity`: MMD and a classifier two-sample test between real and synthetic transitions.
- `gmrl.synthetic.guard`: the fidelity guard that lowers the synthetic share of a batch while
  generated transitions are easy to tell from held-out real ones (`FidelityGuardConfig`).
"""

from gmrl.synthetic.buffer import SyntheticReplayBuffer
from gmrl.synthetic.config import FidelityGuardConfig, SyntheticConfig, TransitionModelConfig
from gmrl.synthetic.fidelity import fidelity
from gmrl.synthetic.generator import TransitionGenerator
from gmrl.synthetic.layout import TransitionLayout, Transitions

__all__ = [
    "FidelityGuardConfig",
    "SyntheticConfig",
    "SyntheticReplayBuffer",
    "TransitionGenerator",
    "TransitionLayout",
    "TransitionModelConfig",
    "Transitions",
    "fidelity",
]
