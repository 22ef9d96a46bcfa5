"""Model-free peers for benchmark grids, built through the agent contract.

`sb3_default` is an `AgentSpec.make` function (`"gmrl.bench.peers:sb3_default"`): SB3 with its
default hyper-parameters, PPO for Discrete actions and SAC for Box ones, so one spec covers every
task of a grid. It lives in the library (not in a benchmark script) so Ray workers import it.
"""

from typing import Any

from gymnasium import spaces

from gmrl.rl.sb3.agent import SB3Agent


def sb3_default(env: Any, seed: int = 0, device: str = "cpu", **params: Any) -> SB3Agent:
    """SB3 PPO (Discrete actions) or SAC (otherwise) with `params` (default: none, SB3's)."""
    algo = "ppo" if isinstance(env.action_space, spaces.Discrete) else "sac"
    # an env of one's own class ("module:Class") has no spec: SB3Agent makes copies by its id
    source = env if getattr(env, "spec", None) is not None else str(getattr(env, "name", ""))
    return SB3Agent(source or env, algo, params, seed=seed, device=device)
