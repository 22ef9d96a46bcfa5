"""UCT / PUCT Monte-Carlo tree search over a batched `SearchModel`.

Each simulation walks down the tree choosing actions by an upper confidence bound, expands one
new edge with the model, evaluates the new leaf, and backs the discounted return up the path.
Two kinds of batching make this cheap in numpy (or on a GPU world model):

- **leaf batching**: each round selects up to `leaf_batch` paths, kept apart by *virtual visits*
  (a pending path counts as a visit with the lowest value seen so far, so the next path prefers
  other branches); all their new edges go through one `model.step` call;
- **batched evaluation**: the new leaves are scored together, by `value_fn(states)` or by
  `rollouts_per_leaf` uniformly random rollouts per leaf, all advanced by one `model.step` call
  per time step.

What is supported: discrete actions (`model.n_actions`); deterministic models exactly, and
stochastic models in the usual single-sample way (a node keeps the state sampled when its edge
was first expanded); a planning horizon `max_depth` counted from the root (tree plus rollout);
optional `prior_fn` for PUCT (AlphaZero-style selection). Values are min-max normalised over the
tree before the exploration bonus is added, so one `exploration` constant works whatever the
reward scale. Continuous actions (sampled actions / progressive widening) are not supported. The
tree is rebuilt at every `search` call (no subtree reuse), which keeps planning over a learned
model honest: the real next observation never has to match a node's imagined state.

`MCTSAgent` acts with a search per observation and honours gmrl's agent contract (a planner:
its `learn` does nothing; `save` / `load` keep its settings).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from gmrl.core.agent import Agent, Callback
from gmrl.core.errors import CheckpointError, ConfigError
from gmrl.core.seeding import numpy_rng
from gmrl.rl.contract import (
    check_env_spaces,
    env_source,
    json_ready,
    saved_config,
    space_from_json,
    space_json,
)
from gmrl.rl.envs import make_env
from gmrl.rl.search_model import SearchModel, search_model_for

# values (B,) for a batch of states; prior action probabilities (B, n_actions) for a batch.
ValueFn = Callable[[np.ndarray], np.ndarray]
PriorFn = Callable[[np.ndarray], np.ndarray]
# actions (B,) for a batch of states, used in rollouts instead of uniformly random actions.
RolloutPolicy = Callable[[np.ndarray], np.ndarray]


@dataclass
class SearchResult:
    """The root's statistics after a search: the chosen (most visited) action and why."""

    action: int
    visit_counts: np.ndarray  # (n_actions,)
    q_values: np.ndarray  # (n_actions,), nan where an action was never tried
    root_value: float  # visit-weighted mean of the root's action values
    simulations: int


class _Tree:
    """Preallocated arrays for nodes and their outgoing edges (node 0 is the root)."""

    def __init__(self, capacity: int, n_actions: int, root: np.ndarray, prior: np.ndarray) -> None:
        self.children = np.full((capacity, n_actions), -1, dtype=np.int64)
        self.visits = np.zeros((capacity, n_actions))
        self.value_sum = np.zeros((capacity, n_actions))
        self.reward = np.zeros((capacity, n_actions))
        self.pending = np.zeros((capacity, n_actions))
        self.prior = np.zeros((capacity, n_actions))
        self.states = np.empty((capacity, *root.shape), dtype=root.dtype)
        self.terminal = np.zeros(capacity, dtype=bool)
        self.depth = np.zeros(capacity, dtype=np.int64)
        self.states[0], self.prior[0], self.size = root, prior, 1
        self.low, self.high = np.inf, -np.inf  # range of backed-up action values

    def add(self, parent: np.ndarray, action: np.ndarray, states: np.ndarray,
            rewards: np.ndarray, terminated: np.ndarray, priors: np.ndarray) -> np.ndarray:
        """Append one child per (parent, action) pair; returns the new node indices."""
        nodes = np.arange(self.size, self.size + len(parent))
        self.size += len(parent)
        self.children[parent, action] = nodes
        self.reward[parent, action] = rewards
        self.states[nodes], self.terminal[nodes], self.prior[nodes] = states, terminated, priors
        self.depth[nodes] = self.depth[parent] + 1
        return nodes


class MCTS:
    """Monte-Carlo tree search with UCT (or PUCT when `prior_fn` is given) over a `SearchModel`.

    Args:
        model: batched model to plan with (`n_actions`, `step(states, actions)`).
        n_simulations: simulations per `search` (each expands at most one new edge).
        exploration: the UCB constant `c`, applied to min-max normalised values.
        max_depth: planning horizon in steps from the root; nodes this deep are not expanded and
            rollouts stop there.
        discount: per-step discount of rewards within the search.
        leaf_batch: paths selected per round and expanded in one `model.step` call.
        rollouts_per_leaf: random rollouts that score each new leaf (ignored with `value_fn`).
        value_fn: optional `states (B, ...) -> values (B,)` used instead of rollouts, and for
            nodes at the horizon.
        prior_fn: optional `states (B, ...) -> probabilities (B, n_actions)` for PUCT.
        rollout_policy: optional `states (B, ...) -> actions (B,)` for rollouts (default:
            uniformly random actions), e.g. a cheap heuristic or a learned policy.
        seed: seeds the numpy Generator used for tie-breaking and rollouts.
    """

    def __init__(
        self, model: SearchModel, *, n_simulations: int = 64, exploration: float = 1.0,
        max_depth: int = 50, discount: float = 0.99, leaf_batch: int = 8,
        rollouts_per_leaf: int = 4, value_fn: ValueFn | None = None,
        prior_fn: PriorFn | None = None, rollout_policy: RolloutPolicy | None = None,
        seed: int = 0,
    ) -> None:
        for name, value in (("n_simulations", n_simulations), ("max_depth", max_depth),
                            ("leaf_batch", leaf_batch), ("rollouts_per_leaf", rollouts_per_leaf)):
            if value < 1:
                raise ConfigError(f"MCTS {name} must be at least 1, got {value}")
        if not 0.0 <= discount <= 1.0 or exploration < 0:
            raise ConfigError(
                f"MCTS needs discount in [0, 1] and exploration >= 0, got {discount}, {exploration}"
            )
        self.model, self.n_actions = model, int(model.n_actions)
        self.n_simulations, self.exploration = n_simulations, exploration
        self.max_depth, self.discount = max_depth, discount
        self.leaf_batch, self.rollouts_per_leaf = leaf_batch, rollouts_per_leaf
        self.value_fn, self.prior_fn, self.rollout_policy = value_fn, prior_fn, rollout_policy
        self.seed = int(seed)
        self.rng = np.random.default_rng(seed)

    def settings(self) -> dict[str, Any]:
        """The numeric settings (what `MCTS(model, **settings, seed=...)` rebuilds it from)."""
        return {"n_simulations": self.n_simulations, "exploration": self.exploration,
                "max_depth": self.max_depth, "discount": self.discount,
                "leaf_batch": self.leaf_batch, "rollouts_per_leaf": self.rollouts_per_leaf}

    def search(self, state: np.ndarray) -> SearchResult:
        """Plan from one state (no batch axis) and return the root statistics."""
        root = np.asarray(state)
        tree = _Tree(self.n_simulations + 1, self.n_actions, root, self._priors(root[None])[0])
        done = 0
        while done < self.n_simulations:
            done += self._round(tree, min(self.leaf_batch, self.n_simulations - done))
        visits = tree.visits[0]
        with np.errstate(invalid="ignore", divide="ignore"):
            q = np.where(visits > 0, tree.value_sum[0] / visits, np.nan)
        best = np.flatnonzero(visits == visits.max())
        tied_and_tried = len(best) > 1 and not np.isnan(q[best]).all()
        action = int(best[np.nanargmax(q[best])]) if tied_and_tried else int(best[0])
        root_value = float(tree.value_sum[0].sum() / max(visits.sum(), 1.0))
        return SearchResult(action, visits.copy(), q, root_value, done)

    # -- one round: select several paths, expand them together, evaluate, back up ------------

    def _round(self, tree: _Tree, paths_wanted: int) -> int:
        paths: list[list[tuple[int, int]]] = []
        sources: list[tuple[bool, int]] = []  # (is a new edge, index into its list) per path
        leaf_nodes: list[int] = []  # paths that end at a terminal or horizon node
        to_expand: list[tuple[int, int]] = []  # paths that end at a new edge
        for _ in range(paths_wanted):
            path, node, edge = self._select(tree)
            if edge is not None and edge in to_expand:
                continue  # another path this round already expands this edge
            for n, a in path:
                tree.pending[n, a] += 1
            paths.append(path)
            if edge is None:
                sources.append((False, len(leaf_nodes)))
                leaf_nodes.append(node)
            else:
                sources.append((True, len(to_expand)))
                to_expand.append(edge)
        leaf_values = self._evaluate_existing(tree, leaf_nodes)
        new_values = self._expand(tree, to_expand)
        for path, (is_new, index) in zip(paths, sources, strict=True):
            self._backup(tree, path, float(new_values[index] if is_new else leaf_values[index]))
        return len(paths)

    def _select(self, tree: _Tree) -> tuple[list[tuple[int, int]], int, tuple[int, int] | None]:
        """Walk from the root; stop at a terminal/horizon node or an unexpanded edge."""
        path: list[tuple[int, int]] = []
        node = 0
        while not tree.terminal[node] and tree.depth[node] < self.max_depth:
            action = self._choose(tree, node)
            path.append((node, action))
            child = tree.children[node, action]
            if child < 0:
                return path, node, (node, action)
            node = int(child)
        return path, node, None

    def _choose(self, tree: _Tree, node: int) -> int:
        """The action maximising normalised value plus exploration bonus at `node`.

        Plain Python over the node's few actions: for small action sets this is several times
        faster than numpy calls on tiny arrays, and selection runs once per tree level.
        """
        visits = (tree.visits[node] + tree.pending[node]).tolist()
        sums = tree.value_sum[node].tolist()
        pending = tree.pending[node].tolist()
        low = tree.low if math.isfinite(tree.low) else 0.0
        span = tree.high - tree.low if tree.high > tree.low else 1.0
        total = sum(visits)
        c = self.exploration
        if self.prior_fn is None:
            untried = [a for a, n in enumerate(visits) if n == 0]
            if len(untried) == 1:
                return untried[0]
            if untried:
                return untried[int(self.rng.integers(len(untried)))]
            log_total = math.log(total)
            scores = [
                ((w + p * low) / n - low) / span + c * math.sqrt(log_total / n)
                for w, p, n in zip(sums, pending, visits, strict=True)
            ]
        else:
            parent = (sum(sums) + sum(pending) * low) / max(total, 1.0)
            root_total = math.sqrt(max(total, 1.0))
            scores = [
                (((w + p * low) / n if n > 0 else parent) - low) / span
                + c * prior * root_total / (1.0 + n)
                for w, p, n, prior in zip(sums, pending, visits, tree.prior[node].tolist(),
                                          strict=True)
            ]
        top = max(scores)
        best = [a for a, score in enumerate(scores) if score == top]
        return best[0] if len(best) == 1 else best[int(self.rng.integers(len(best)))]

    def _expand(self, tree: _Tree, edges: list[tuple[int, int]]) -> np.ndarray:
        """Step all new edges through the model at once; returns each new leaf's value."""
        if not edges:
            return np.zeros(0)
        parent = np.array([n for n, _ in edges])
        action = np.array([a for _, a in edges])
        next_states, rewards, terminated = self.model.step(tree.states[parent], action)
        terminated = np.asarray(terminated, dtype=bool)
        nodes = tree.add(parent, action, next_states, np.asarray(rewards, dtype=np.float64),
                         terminated, self._priors(next_states))
        return self._evaluate_existing(tree, list(nodes))

    def _evaluate_existing(self, tree: _Tree, nodes: list[int]) -> np.ndarray:
        """Value of leaves already in the tree: 0 if terminal, else value_fn or rollouts."""
        values = np.zeros(len(nodes))
        if not nodes:
            return values
        nodes_arr = np.array(nodes)
        live = ~tree.terminal[nodes_arr]
        if self.value_fn is not None:
            if live.any():
                values[live] = np.asarray(self.value_fn(tree.states[nodes_arr[live]]))
            return values
        horizon = self.max_depth - tree.depth[nodes_arr]
        live &= horizon > 0
        if live.any():
            values[live] = self._rollouts(tree.states[nodes_arr[live]], horizon[live])
        return values

    def _rollouts(self, states: np.ndarray, horizon: np.ndarray) -> np.ndarray:
        """Mean discounted return of `rollouts_per_leaf` random rollouts from each state.

        All rollouts advance together, one `model.step` call per time step. Finished rows are
        dropped from the batch once they are half of it (re-indexing every step would cost more
        than stepping a few finished rows, which earn nothing).
        """
        k = self.rollouts_per_leaf
        current = np.repeat(states, k, axis=0)
        steps_left = np.repeat(horizon, k)
        rows = np.arange(len(current))  # which rollout each row of `current` belongs to
        returns = np.zeros(len(current))
        alive = np.ones(len(current), dtype=bool)
        scale = 1.0
        for t in range(int(steps_left.max())):
            if self.rollout_policy is None:
                actions = self.rng.integers(self.n_actions, size=len(rows))
            else:
                actions = np.asarray(self.rollout_policy(current), dtype=np.int64)
            current, rewards, terminated = self.model.step(current, actions)
            returns[rows] += np.where(alive, scale * np.asarray(rewards, dtype=np.float64), 0.0)
            alive &= ~np.asarray(terminated, dtype=bool) & (steps_left > t + 1)
            n_alive = int(alive.sum())
            if n_alive == 0:
                break
            if 2 * n_alive <= len(rows):
                current, rows, steps_left = current[alive], rows[alive], steps_left[alive]
                alive = np.ones(n_alive, dtype=bool)
            scale *= self.discount
        return returns.reshape(len(states), k).mean(axis=1)

    def _priors(self, states: np.ndarray) -> np.ndarray:
        if self.prior_fn is None:
            return np.full((len(states), self.n_actions), 1.0 / self.n_actions)
        return np.asarray(self.prior_fn(states), dtype=np.float64)

    def _backup(self, tree: _Tree, path: list[tuple[int, int]], value: float) -> None:
        ret = value
        for node, action in reversed(path):
            ret = tree.reward[node, action] + self.discount * ret
            tree.value_sum[node, action] += ret
            tree.visits[node, action] += 1
            tree.pending[node, action] -= 1
            mean = tree.value_sum[node, action] / tree.visits[node, action]
            tree.low, tree.high = min(tree.low, mean), max(tree.high, mean)


class MCTSAgent(Agent):
    """Acts by running an `MCTS` search from each observation; on gmrl's agent contract.

    `obs_to_state` maps an env observation to the model's state (default: the observation as a
    float64 array, right for `CartPoleModel`, whose state is the observation; note CartPole's
    observation is the float32 rounding of the env's float64 state, a negligible difference).

    On the contract (`gmrl.core.agent.Agent`):

    - `learn` does nothing: MCTS plans, it does not learn. It takes no env step, counts nothing
      (`num_timesteps` stays 0) and never calls the callback; it returns the agent.
    - `predict(obs)` searches from each observation of a batch (or from one), exactly as the
      `rl` recipe acts: the search starts from `obs_to_state(obs)`, the observation itself for
      CartPole, and never reads the env's hidden state (it does not need to: the observation is
      the physical state, rounded to float32). With `deterministic=True` each search draws its
      tie-breaks and rollouts from a generator seeded afresh from the planner's seed, so the
      action is a function of the observation alone (repeatable, and the same after `load`);
      `deterministic=False` draws from the planner's running generator.
    - `save` writes the settings (simulations, exploration, depth, discount, batching, seed)
      and the env id the model is made from; there are no weights. It needs an agent whose model
      gmrl can rebuild from that env (`MCTSAgent.from_env`, or `env=` given) and no callables
      (`value_fn`, `prior_fn`, `rollout_policy`, a custom `obs_to_state`): those are refused in
      one line. `load` rebuilds the model from the given env, or from the saved env id.
    """

    name = "mcts"

    def __init__(
        self, planner: MCTS, obs_to_state: Callable[[np.ndarray], np.ndarray] | None = None,
        *, env: gym.Env | None = None,
    ) -> None:
        self.planner = planner
        self.custom_state = obs_to_state is not None
        self.obs_to_state = obs_to_state or (lambda obs: np.asarray(obs, dtype=np.float64))
        self.last_result: SearchResult | None = None
        self.env = env
        self.num_timesteps = 0

    @classmethod
    def from_env(cls, env: str | gym.Env, *, seed: int = 0, **settings: Any) -> MCTSAgent:
        """An agent planning with gmrl's model of `env` (an id or an env); `settings` go to
        `MCTS` (n_simulations, exploration, max_depth, discount, leaf_batch, rollouts_per_leaf).
        """
        made = make_env(env, check=False) if isinstance(env, str) else env
        try:
            planner = MCTS(search_model_for(made), seed=seed, **settings)
        except TypeError as exc:
            raise ConfigError(f"MCTS settings: {exc} (known: {', '.join(_SETTINGS)})") from exc
        return cls(planner, env=made)

    def act(self, obs: np.ndarray) -> int:
        """The most visited root action after searching from `obs`."""
        self.last_result = self.planner.search(self.obs_to_state(obs))
        return self.last_result.action

    def learn(self, total_timesteps: int, callback: Callback | None = None) -> MCTSAgent:
        """Nothing to learn: a planner. Takes no step, counts nothing, calls no callback."""
        return self

    def predict(
        self, observation: Any, state: Any = None, episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """The searched action for one observation or a batch (see the class docstring).

        `state` and `episode_start` are accepted for SB3's signature and unused: every search
        builds a new tree from the observation.
        """
        array = np.asarray(observation)
        shape = None if self.env is None else self.env.observation_space.shape
        single = array.ndim <= 1 if shape is None else array.shape == tuple(shape)
        batch = array[None] if single else array
        actions = np.array([self._search(obs, deterministic) for obs in batch], dtype=np.int64)
        return (actions[0] if single else actions), None

    def _search(self, obs: np.ndarray, deterministic: bool) -> int:
        if not deterministic:
            return self.act(obs)
        running = self.planner.rng
        self.planner.rng = numpy_rng(self.planner.seed, "mcts_predict")
        try:
            return self.act(obs)
        finally:
            self.planner.rng = running

    # ------------------------------------------------------------------ save / load
    def _config_json(self) -> dict[str, Any]:
        planner = self.planner
        problems = [name for name, value in (
            ("value_fn", planner.value_fn), ("prior_fn", planner.prior_fn),
            ("rollout_policy", planner.rollout_policy)) if value is not None]
        if self.custom_state:
            problems.append("obs_to_state")
        if problems:
            raise CheckpointError(
                f"cannot save an MCTSAgent with {', '.join(problems)}: functions are not saved "
                "(only settings); rebuild them after loading"
            )
        if self.env is None or type(search_model_for(self.env)) is not type(planner.model):
            raise CheckpointError(
                f"cannot save an MCTSAgent planning with a {type(planner.model).__name__} "
                "that gmrl cannot rebuild from an env: build it with MCTSAgent.from_env(env)"
            )
        env_id, env_kwargs = env_source(self.env, None, "the mcts agent")
        return {
            "settings": planner.settings(), "seed": planner.seed, "env_id": env_id,
            "env_kwargs": json_ready(env_kwargs, "the mcts agent's env arguments"),
            "observation_space": space_json(self.env.observation_space),
            "action_space": space_json(self.env.action_space),
        }

    def _tensors(self) -> dict[str, Any]:
        return {}  # a planner has no weights

    @classmethod
    def _from_saved(cls, config: dict[str, Any], tensors: dict[str, Any], env: Any
                    ) -> MCTSAgent:
        with saved_config(cls.name):
            observation_space = space_from_json(config["observation_space"])
            action_space = space_from_json(config["action_space"])
            settings, seed = dict(config["settings"]), int(config["seed"])
            env_id, env_kwargs = str(config["env_id"]), dict(config["env_kwargs"])
        check_env_spaces(env, observation_space, action_space, cls.name)
        if env is None:
            env = make_env(env_id, check=False, **env_kwargs)
        with saved_config(cls.name):
            return cls.from_env(env, seed=seed, **settings)


_SETTINGS = ("n_simulations", "exploration", "max_depth", "discount", "leaf_batch",
             "rollouts_per_leaf")
