"""gmrl: generative models meet reinforcement learning.

Four combinations, each end to end and measured: generative models producing synthetic RL data,
RL training generative models (SeqGAN, KL-regularised reward tuning), generative world models
inside the agent, and RL-tuned creative generators. See the README and docs/ for a tour.
"""

__version__ = "0.1.0"
