"""What a benchmark declares: a grid of cells, each one run and recorded by the harness.

Two kinds of grid. An agent benchmark (`Grid`) is tasks x agents x seeds x budget, each
combination one `Cell` trained through the public agent API. Any other benchmark (fitting a
model, running a recipe config) is a `FunctionGrid`: named variants x seeds, each combination
one `FunctionCell` that calls one importable function `(settings, seed) -> metrics`.

Plain frozen data, so a grid reads as a table at the top of a benchmark script, travels to Ray
workers as it is, and hashes to a digest that says whether a recorded cell is still the one the
grid asks for (a changed budget, threshold, agent setting, evaluation, variant setting or
function makes it a new cell). See `gmrl.bench.harness` for how cells are run.
"""

import fnmatch
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from gmrl.core.errors import ConfigError


@dataclass(frozen=True)
class Task:
    """An env and the return that counts as solving it.

    `env` is a Gymnasium id or a "module:Class" path (`gmrl.rl.envs.make_env`); `threshold`:
    a cell reaches it at its first evaluation whose mean return is at or above it (None: no
    threshold, the cell runs its whole budget). `budget` overrides the grid's for this task and
    `budgets` per agent name (e.g. a model-free peer given more steps than gmrl).
    """

    env: str
    threshold: float | None = None
    name: str = ""
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    budget: int | None = None
    budgets: Mapping[str, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.name or self.env


@dataclass(frozen=True)
class AgentSpec:
    """An agent as `gmrl.make_agent` builds it: `config` is `{"agent": name, **settings}`.

    `make` ("module:function", called as `function(env, seed=seed, **config)`) builds an agent
    of the contract some other way (e.g. from a recipe config); it must be importable where the
    cells run. `budget` overrides the grid's budget for this agent, `evaluation` the grid's
    evaluation (e.g. an agent that goes on past the threshold to show whether it holds there);
    `tasks` (task labels) limits the agent to those tasks (an ablation on the tasks it is for).
    """

    name: str
    config: Mapping[str, Any]
    make: str | None = None
    budget: int | None = None
    evaluation: "Evaluation | None" = None
    tasks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Evaluation:
    """When and how a cell evaluates its agent (`gmrl.rl.rollout.evaluate_agent`).

    Every `every` real steps, or at the real-step checkpoints `points` when given (a geometric
    schedule keeps long runs cheap); `episodes` seeded episodes each. A cell stops at its first
    evaluation that reaches the task's threshold, or `after_threshold` evaluations later (to see
    whether it holds there). With `until_held`, a reach that does not hold (an evaluation within
    the `after_threshold` that follow falls more than 20 % of the best return below it) does not
    end the cell: it learns on until a reach holds for `after_threshold` evaluations or its
    budget ends (`steps_to_held` in the record; `steps_to_threshold` stays the first reach).
    """

    episodes: int = 10
    every: int | None = 5_000
    points: tuple[int, ...] = ()
    after_threshold: int = 0
    deterministic: bool = True
    until_held: bool = False

    def next_point(self, steps: int) -> int | None:
        """The first evaluation checkpoint after `steps` real steps (None: no more)."""
        if self.points:
            return next((p for p in sorted(self.points) if p > steps), None)
        if not self.every:
            return None
        return (steps // self.every + 1) * self.every


@dataclass(frozen=True)
class Cell:
    """One (task, agent, seed) run with its budget: the unit the harness runs and records."""

    benchmark: str
    task: Task
    agent: AgentSpec
    seed: int
    budget: int
    evaluation: Evaluation
    threads: int = 1

    @property
    def key(self) -> str:
        return f"{self.task.label}/{self.agent.name}/seed{self.seed}"

    def spec(self) -> dict[str, Any]:
        """Everything that decides the cell's result, as JSON values (the agent's evaluation
        override is the cell's `evaluation`; leaving it out of `agent` keeps the digests of
        cells recorded before agents could override it)."""
        agent = {k: v for k, v in asdict(self.agent).items() if k not in ("evaluation", "tasks")}
        evaluation = asdict(self.evaluation)
        if not evaluation["until_held"]:  # (added later: off, the digests stay as they were)
            del evaluation["until_held"]
        return {"task": asdict(self.task), "agent": agent, "seed": self.seed,
                "budget": self.budget, "evaluation": evaluation}

    @property
    def digest(self) -> str:
        return spec_digest(self.spec())


# Settings an agent gained after cells were recorded without them, per agent kind, with the
# value that behaves as their absence: at that value they are left out of a digest, so a new
# setting does not unmatch every cell recorded before it (a cell still records every setting).
NEUTRAL_SETTINGS: dict[str, dict[str, Any]] = {
    "tdmpc": {"explore": 0.0, "explore_heads": 5, "value_expansion": 0, "noise_beta": 0.0,
              "prior_imitation": 0.0, "bootstrap_action": "prior",
              "plan_action": "elite", "return_bound": None,
              "return_bound_kind": "bootstrapped"},
}


def _without_neutral(agent: Mapping[str, Any]) -> Mapping[str, Any]:
    """An agent spec with its settings at their neutral values (`NEUTRAL_SETTINGS`) left out."""
    config = agent.get("config")
    if not isinstance(config, Mapping) or not isinstance(config.get("config"), Mapping):
        return agent
    neutral = NEUTRAL_SETTINGS.get(str(config.get("agent")), {})
    settings = {k: v for k, v in config["config"].items()
                if not (k in neutral and v == neutral[k])}
    return {**agent, "config": {**config, "config": settings}}


def spec_digest(spec: Mapping[str, Any]) -> str:
    """The digest of an agent cell's spec, with its task's per-agent `budgets` left out (the
    cell's own budget is in the spec, and a grid that gains an agent (and its budget) keeps the
    digests of the cells it already had) and its settings at their neutral values too
    (`NEUTRAL_SETTINGS`)."""
    task = spec.get("task")
    if isinstance(task, Mapping) and "budgets" in task:
        spec = {**spec, "task": {k: v for k, v in task.items() if k != "budgets"}}
    agent = spec.get("agent")
    if isinstance(agent, Mapping):
        spec = {**spec, "agent": _without_neutral(agent)}
    text = json.dumps(spec, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def record_digest(record: Mapping[str, Any]) -> str | None:
    """A recorded cell's digest by today's rule: recomputed from the spec an agent cell's record
    keeps (records written before the rule hashed every agent's budget), else as recorded."""
    spec = record.get("spec")
    if record.get("kind") != "function" and isinstance(spec, Mapping) and "task" in spec:
        return spec_digest(spec)
    digest = record.get("digest")
    return None if digest is None else str(digest)


@dataclass(frozen=True)
class Grid:
    """A benchmark: `tasks` x `agents` x `seeds`, each cell given `budget` real env steps
    (unless its task or agent says otherwise) and evaluated per `evaluation`.

    `threads`: torch threads per cell (cells share the machine's cores: one each by default).
    """

    name: str
    tasks: tuple[Task, ...]
    agents: tuple[AgentSpec, ...]
    seeds: tuple[int, ...]
    budget: int
    evaluation: Evaluation = field(default_factory=Evaluation)
    description: str = ""
    threads: int = 1

    def budget_for(self, task: Task, agent: AgentSpec) -> int:
        """Real env steps for `agent` on `task`: per-task-and-agent, agent, task, grid."""
        chosen = task.budgets.get(agent.name) or agent.budget or task.budget or self.budget
        return int(chosen)

    def cells(self) -> list[Cell]:
        """Every cell, seed-major (a run cut short has covered every task and agent); an agent
        limited to some tasks has cells on those only."""
        return [Cell(self.name, task, agent, seed, self.budget_for(task, agent),
                     agent.evaluation or self.evaluation, self.threads)
                for seed in self.seeds for task in self.tasks for agent in self.agents
                if not agent.tasks or task.label in agent.tasks]

    def select(self, tasks: Sequence[str] | None = None, agents: Sequence[str] | None = None,
               seeds: Sequence[int] | None = None, budget: int | None = None) -> "Grid":
        """The grid narrowed to the named tasks / agents, other seeds, or one budget for every
        cell; unknown names are a `ConfigError` listing the known ones."""
        chosen = self
        if tasks:
            _check(tasks, [t.label for t in self.tasks], "task", self.name)
            chosen = replace(chosen, tasks=tuple(t for t in self.tasks if t.label in tasks))
        if agents:
            _check(agents, [a.name for a in self.agents], "agent", self.name)
            chosen = replace(chosen, agents=tuple(a for a in self.agents if a.name in agents))
        if seeds is not None:
            chosen = replace(chosen, seeds=tuple(int(s) for s in seeds))
        if budget is not None:
            chosen = replace(
                chosen, budget=int(budget), agents=tuple(replace(a, budget=None)
                                                         for a in chosen.agents),
                tasks=tuple(replace(t, budget=None, budgets={}) for t in chosen.tasks))
        return chosen


def _check(names: Sequence[str], known: list[str], what: str, grid: str) -> None:
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"benchmark '{grid}' has no {what} {', '.join(map(repr, unknown))} "
                          f"(have: {', '.join(known)})")


# ----------------------------------------------------------------------------- function cells
@dataclass(frozen=True)
class Variant:
    """One named setting of a function benchmark: `settings` (JSON values) are passed to the
    grid's function as they are, and are part of the cell's digest."""

    name: str
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FunctionCell:
    """One (variant, seed) call of a function benchmark: the unit the harness runs and records.

    `function` is "module:function", importable where the cells run (a benchmark script's own
    module name works: the harness runs it from its folder, and Ray puts that folder on its
    workers' path)."""

    benchmark: str
    function: str
    variant: Variant
    seed: int
    threads: int = 1

    @property
    def key(self) -> str:
        return f"{self.variant.name}/seed{self.seed}"

    def spec(self) -> dict[str, Any]:
        """Everything that decides the cell's result, as JSON values."""
        return {"function": self.function, "variant": self.variant.name,
                "settings": dict(self.variant.settings), "seed": self.seed}

    @property
    def digest(self) -> str:
        text = json.dumps(self.spec(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class FunctionGrid:
    """A benchmark that is not an agent: `variants` x `seeds`, each cell one call of `function`
    ("module:function", called as `function(dict(variant.settings), seed)` and returning a
    mapping of metrics; numbers among them are summarised per variant over seeds).

    `threads`: torch threads per cell. `show`: metrics named in each cell's progress line and
    in the printed summary table (default: the first four a cell returns).
    """

    name: str
    function: str
    variants: tuple[Variant, ...]
    seeds: tuple[int, ...]
    description: str = ""
    threads: int = 1
    show: tuple[str, ...] = ()

    def cells(self) -> list[FunctionCell]:
        """Every cell, seed-major (a run cut short has covered every variant)."""
        return [FunctionCell(self.name, self.function, variant, seed, self.threads)
                for seed in self.seeds for variant in self.variants]

    def select(self, variants: Sequence[str] | None = None,
               seeds: Sequence[int] | None = None) -> "FunctionGrid":
        """The grid narrowed to the variants named (names or shell patterns such as
        'flow/*'), or other seeds; a name or pattern that matches nothing is a `ConfigError`
        listing the variants."""
        chosen = self
        if variants:
            def picked(name: str) -> bool:
                return any(fnmatch.fnmatchcase(name, pattern) for pattern in variants)

            names = [v.name for v in self.variants]
            _check([p for p in variants if not any(fnmatch.fnmatchcase(n, p) for n in names)],
                   names, "variant", self.name)
            chosen = replace(chosen, variants=tuple(v for v in self.variants if picked(v.name)))
        if seeds is not None:
            chosen = replace(chosen, seeds=tuple(int(s) for s in seeds))
        return chosen
