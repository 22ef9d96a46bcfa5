"""A TD-MPC2-class world-model agent: a latent model that learns a value and a policy with it.

`TDMPCAgent` (agent.py) trains, jointly and on short model rollouts, an encoder, latent dynamics,
reward and termination heads, an ensemble of Q-functions and a policy prior (model.py) from a
replay of real sub-trajectories (buffer.py), and acts by MPPI planning in the latent space seeded
with policy samples and bootstrapped with Q at the horizon (planner.py), or from the policy alone.
Rewards and values are discrete (two-hot) regressions in symlog space (layers.py), so one config
serves any reward scale.
"""

from gmrl.worldmodel.tdmpc.agent import TDMPCAgent
from gmrl.worldmodel.tdmpc.config import TDMPCConfig

__all__ = ["TDMPCAgent", "TDMPCConfig"]
