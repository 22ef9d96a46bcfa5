"""Roll policies out on real envs: `evaluate_agent` (any agent of the contract, episodes in
lockstep; a plain function of the observation batch through `PolicyFunction`) and
`record_episodes` (per-step arrays of a policy's episodes, for diagnosis). Every evaluation in
gmrl (benchmark cells, the rl and world-model recipes, the agents' own `evaluate`) is this one
loop.

In `evaluate_agent`, episodes run side by side; `predict` is called once per time step with
the batch of live observations and the recurrent/plan state, with `episode_start` marking each
episode's first step, as Stable-Baselines3's `evaluate_policy` does. Episode `i` is reset with the
`i`-th seed spawned from `SeedSequence(seed)`, so two agents evaluated with the same seed face the
same start states, and the seeds fit every env's range (dm_control refuses seeds of 2**32 and
above); `reset_seeds` gives them explicitly instead (the recipes' `seed`, `seed + 1`, ...).
"""

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

EVAL_STEP_CAP = 1_000  # evaluation episodes of envs without a time limit stop here


def episode_seeds(seed: int, count: int) -> list[int]:
    """`count` reset seeds below 2**31, spawned from `SeedSequence(seed)`."""
    children = np.random.SeedSequence(int(seed) % 2**128).spawn(count)
    return [int(child.generate_state(1)[0]) >> 1 for child in children]


class PolicyFunction:
    """A function from a batch of observations to a batch of actions, with the contract's
    `predict` (memoryless: the state passes through), so `evaluate_agent` runs it."""

    def __init__(self, act: Callable[[np.ndarray], Any]) -> None:
        self.act = act

    def predict(self, observation: Any, state: Any = None,
                episode_start: np.ndarray | None = None,
                deterministic: bool = True) -> tuple[np.ndarray, Any]:
        return np.asarray(self.act(observation)), state


def evaluate_agent(
    agent: Any, make_env: Callable[[], gym.Env], *, episodes: int = 5, seed: int = 0,
    deterministic: bool = True, max_steps: int | None = None,
    reset_seeds: Sequence[int] | None = None,
) -> np.ndarray:
    """Undiscounted returns of `episodes` episodes of `agent.predict` on new envs.

    Episodes stop at the env's time limit, or after `max_steps` steps (default for an env
    without a time limit: `EVAL_STEP_CAP`, as a greedy policy can walk in circles forever)."""
    seeds = list(reset_seeds) if reset_seeds is not None else episode_seeds(seed, episodes)
    if len(seeds) != episodes:
        raise ValueError(f"{len(seeds)} reset seeds for {episodes} episodes")
    envs = [make_env() for _ in range(episodes)]
    try:
        limit = max_steps or (None if envs[0].spec and envs[0].spec.max_episode_steps
                              else EVAL_STEP_CAP)
        obs = np.stack([np.asarray(env.reset(seed=int(s))[0]) for env, s in
                        zip(envs, seeds, strict=True)])
        returns = np.zeros(episodes)
        live = np.ones(episodes, dtype=bool)
        start = np.ones(episodes, dtype=bool)
        state: Any = None
        steps = 0
        while live.any() and (limit is None or steps < limit):
            actions, state = agent.predict(obs, state=state, episode_start=start,
                                           deterministic=deterministic)
            start[:] = False
            for i in np.flatnonzero(live):
                next_obs, reward, terminated, truncated, _ = envs[i].step(actions[i])
                returns[i] += float(reward)
                obs[i] = next_obs
                live[i] = not (terminated or truncated)
            steps += 1
    finally:
        for env in envs:
            env.close()
    return returns


def record_episodes(
    make_env: Callable[[], gym.Env], policy_factory: Callable[[], Callable[[np.ndarray], Any]],
    seeds: list[int],
) -> list[dict[str, Any]]:
    """One episode per reset seed, a fresh policy from `policy_factory` for each: per-step
    arrays `obs`, `action`, `reward`, `next_obs`, `terminated` and the step `infos` (what a
    diagnosis measures on on-policy transitions)."""
    env = make_env()
    keys = ("obs", "action", "reward", "next_obs", "terminated")
    episodes = []
    try:
        for seed in seeds:
            policy = policy_factory()
            obs, _ = env.reset(seed=seed)
            steps: dict[str, list[Any]] = {k: [] for k in keys}
            infos, done = [], False
            while not done:
                action = policy(obs)
                nxt, reward, term, trunc, info = env.step(action)
                for key, value in zip(keys, (obs, action, float(reward), nxt, bool(term)),
                                      strict=True):
                    steps[key].append(value)
                infos.append(info)
                obs, done = nxt, term or trunc
            episodes.append({**{k: np.array(v) for k, v in steps.items()}, "infos": infos})
    finally:
        env.close()
    return episodes
