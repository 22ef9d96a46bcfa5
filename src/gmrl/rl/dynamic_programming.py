"""Value iteration, policy iteration and exact policy evaluation on a known tabular model.

The model is Gymnasium's toy-text convention, `P[s][a] = [(prob, next_state, reward,
terminated), ...]` (FrozenLake, CliffWalking, Taxi expose it as `env.unwrapped.P`). It is turned
once into dense arrays (`TabularModel`):

- `transitions[s, a, s']`: probability of moving to `s'` *and continuing* (terminating mass is
  left out, so the row sums to 1 minus the probability of terminating);
- `rewards[s, a]`: expected immediate reward.

A Bellman backup is then one array expression, `rewards + gamma * transitions @ values`, and
termination needs no special case: a terminated transition simply does not bootstrap. Time
limits (TimeLimit wrappers) are not part of the model; DP values are those of the untruncated
task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from gmrl.core.errors import ConfigError, EnvError

TransitionList = Sequence[tuple[float, int, float, bool]]
ModelDict = Mapping[int, Mapping[int, TransitionList]] | Sequence[Mapping[int, TransitionList]]


@dataclass(frozen=True)
class TabularModel:
    """A finite MDP as arrays: `transitions (S, A, S)` (non-terminating mass), `rewards (S, A)`."""

    transitions: np.ndarray
    rewards: np.ndarray

    @property
    def n_states(self) -> int:
        return self.rewards.shape[0]

    @property
    def n_actions(self) -> int:
        return self.rewards.shape[1]

    def q_values(self, values: np.ndarray, gamma: float) -> np.ndarray:
        """One Bellman backup: `Q[s, a] = r(s, a) + gamma * sum_s' T[s, a, s'] V[s']`."""
        return self.rewards + gamma * self.transitions @ values


@dataclass
class DPResult:
    """What value / policy iteration return.

    `values (S,)` and `q (S, A)` of the greedy `policy (S,)`; `iterations` counts Bellman sweeps
    (value iteration) or improvement steps (policy iteration); `converged` is False when
    `max_iterations` ran out first.
    """

    values: np.ndarray
    policy: np.ndarray
    q: np.ndarray
    iterations: int
    converged: bool


def tabular_model(model: gym.Env | ModelDict | TabularModel) -> TabularModel:
    """Dense arrays from an env with `unwrapped.P`, a `P` dict/list, or a `TabularModel`."""
    if isinstance(model, TabularModel):
        return model
    if isinstance(model, gym.Env):
        table = getattr(model.unwrapped, "P", None)
        if table is None:
            name = model.spec.id if model.spec is not None else type(model.unwrapped).__name__
            raise EnvError(
                f"{name} exposes no transition table env.unwrapped.P; dynamic programming needs "
                "a known model (FrozenLake-v1, CliffWalking-v1, Taxi-v3, or pass P yourself)"
            )
        return _from_table(table)
    return _from_table(model)


def _from_table(table: Any) -> TabularModel:
    n_states = len(table)
    if n_states == 0:
        raise EnvError("the transition table P is empty")
    n_actions = len(table[0])
    transitions = np.zeros((n_states, n_actions, n_states))
    rewards = np.zeros((n_states, n_actions))
    for s in range(n_states):
        if len(table[s]) != n_actions:
            raise EnvError(f"P[{s}] has {len(table[s])} actions, P[0] has {n_actions}")
        for a in range(n_actions):
            for prob, next_state, reward, terminated in table[s][a]:
                rewards[s, a] += prob * reward
                if not terminated:
                    transitions[s, a, int(next_state)] += prob
    return TabularModel(transitions, rewards)


def _check_gamma(gamma: float, *, allow_one: bool) -> None:
    high_ok = gamma <= 1.0 if allow_one else gamma < 1.0
    if not (gamma >= 0.0 and high_ok):
        bound = "[0, 1]" if allow_one else "[0, 1)"
        raise ConfigError(f"gamma must be in {bound} here, got {gamma}")


def value_iteration(
    model: gym.Env | ModelDict | TabularModel, gamma: float = 0.99, *, tol: float = 1e-10,
    max_iterations: int = 100_000,
) -> DPResult:
    """Optimal values by repeated Bellman optimality backups, `V <- max_a Q(V)`.

    Stops when the largest change in a sweep is below `tol` (the values are then within
    `tol * gamma / (1 - gamma)` of optimal). `gamma = 1` is allowed for tasks where every policy
    worth following terminates (stochastic shortest path, e.g. CliffWalking); it may not converge
    otherwise, and `converged` says so.
    """
    _check_gamma(gamma, allow_one=True)
    mdp = tabular_model(model)
    values = np.zeros(mdp.n_states)
    converged, iterations = False, 0
    for iterations in range(1, max_iterations + 1):  # noqa: B007 (the count is returned)
        new_values = mdp.q_values(values, gamma).max(axis=1)
        delta = np.abs(new_values - values).max()
        values = new_values
        if delta < tol:
            converged = True
            break
    q = mdp.q_values(values, gamma)
    return DPResult(values, q.argmax(axis=1), q, iterations, converged)


def policy_iteration(
    model: gym.Env | ModelDict | TabularModel, gamma: float = 0.99, *,
    max_iterations: int = 1_000,
) -> DPResult:
    """Optimal policy by alternating exact evaluation (a linear solve) and greedy improvement.

    Starts from the all-zeros policy and stops when the greedy policy no longer changes (an
    action is only switched when it is better by more than 1e-12, so ties do not cycle).
    Needs `gamma < 1` so that every policy's evaluation is a well-posed linear system.
    """
    _check_gamma(gamma, allow_one=False)
    mdp = tabular_model(model)
    policy = np.zeros(mdp.n_states, dtype=np.int64)
    states = np.arange(mdp.n_states)
    converged, iterations = False, 0
    for iterations in range(1, max_iterations + 1):  # noqa: B007 (the count is returned)
        values = policy_evaluation(mdp, policy, gamma)
        q = mdp.q_values(values, gamma)
        better = q.max(axis=1) > q[states, policy] + 1e-12
        if not better.any():
            converged = True
            break
        policy = np.where(better, q.argmax(axis=1), policy)
    values = policy_evaluation(mdp, policy, gamma)
    return DPResult(values, policy, mdp.q_values(values, gamma), iterations, converged)


def policy_evaluation(
    model: gym.Env | ModelDict | TabularModel, policy: np.ndarray, gamma: float = 0.99
) -> np.ndarray:
    """Exact expected discounted return of `policy` from every state, shape `(S,)`.

    `policy` is either deterministic, `(S,)` action indices, or stochastic, `(S, A)` action
    probabilities. Solves `(I - gamma * T_pi) V = r_pi` directly. With `gamma = 1` only states
    from which the policy terminates with probability 1 have a finite, well-defined value; the
    others (the policy can loop forever from them) get `nan`.
    """
    _check_gamma(gamma, allow_one=True)
    mdp = tabular_model(model)
    probs = _policy_probabilities(np.asarray(policy), mdp.n_states, mdp.n_actions)
    t_pi = np.einsum("sa,sat->st", probs, mdp.transitions)
    r_pi = (probs * mdp.rewards).sum(axis=1)
    values = np.full(mdp.n_states, np.nan)
    proper = np.ones(mdp.n_states, dtype=bool) if gamma < 1.0 else _terminating_states(t_pi)
    if proper.any():
        sub = np.ix_(proper, proper)
        system = np.eye(int(proper.sum())) - gamma * t_pi[sub]
        values[proper] = np.linalg.solve(system, r_pi[proper])
    return values


def _policy_probabilities(policy: np.ndarray, n_states: int, n_actions: int) -> np.ndarray:
    if policy.shape == (n_states,):
        if policy.min() < 0 or policy.max() >= n_actions:
            raise ConfigError(f"policy actions must be in [0, {n_actions}), got {policy}")
        return np.eye(n_actions)[policy]
    if policy.shape == (n_states, n_actions):
        if not np.allclose(policy.sum(axis=1), 1.0) or policy.min() < 0:
            raise ConfigError("a stochastic policy's rows must be probabilities summing to 1")
        return policy.astype(np.float64)
    raise ConfigError(
        f"policy must have shape ({n_states},) or ({n_states}, {n_actions}), got {policy.shape}"
    )


def _terminating_states(t_pi: np.ndarray) -> np.ndarray:
    """States from which the Markov chain `t_pi` (substochastic) terminates with probability 1.

    A state fails exactly when it can reach a state that cannot reach termination at all; both
    sets come from reachability over the transition graph.
    """
    edges = t_pi > 0
    can_terminate = t_pi.sum(axis=1) < 1.0 - 1e-12
    while True:  # backward reachability of "has terminating mass"
        grown = can_terminate | (edges & can_terminate[None, :]).any(axis=1)
        if (grown == can_terminate).all():
            break
        can_terminate = grown
    doomed = ~can_terminate
    while True:  # backward reachability of "stuck forever"
        grown = doomed | (edges & doomed[None, :]).any(axis=1)
        if (grown == doomed).all():
            break
        doomed = grown
    return ~doomed
