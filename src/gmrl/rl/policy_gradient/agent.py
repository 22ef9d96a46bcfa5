"""What REINFORCE and actor-critic share: networks, acting, the training loop, save/load.

A subclass supplies its hyper-parameter model (`config_class`) and `train_iteration()`, which
collects experience, takes a gradient step and returns the metrics to log. `learn()` repeats that
until a budget of env steps or episodes is spent, calling the caller's callback after every
iteration (return False from it to stop early).

`save(path)` writes one gmrl artifact (`gmrl.core.checkpoint.save_artifact`: safetensors + JSON
naming the class, env and hyper-parameters); `PolicyGradientAgent.load(path)` rebuilds the agent.
`state_dict()` holds everything training depends on, the training envs' mid-episode positions
and the agent's own random generator included (`gmrl.rl.env_state`), so a checkpointed run
resumes exactly. The seed decides everything: initial weights and training's samples never come
from the global generators. Nothing is pickled.
`ReinforceAgent` / `ActorCriticAgent` (`gmrl.rl.policy_gradient.contract`) put these agents on
gmrl's agent contract (its `learn`, `predict`, directory `save` and `load`).
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np
import torch
from pydantic import Field

from gmrl.core.checkpoint import load_artifact, load_tensors, restore_or_explain, save_artifact
from gmrl.core.config import (
    FiniteFloat,
    NonNegativeFloat,
    PositiveFloat,
    StrictModel,
    validate_config,
)
from gmrl.core.device import resolve_device
from gmrl.core.errors import CheckpointError, EnvError
from gmrl.core.seeding import derive_seed
from gmrl.rl.env_state import EpisodeRecorder
from gmrl.rl.envs import check_algorithm_supports, env_factory, make_env, make_vector_env
from gmrl.rl.policy_gradient.networks import (
    ObservationEncoder,
    RunningNormalizer,
    build_policy,
    mlp,
)
from gmrl.rl.rollout import EVAL_STEP_CAP, PolicyFunction, evaluate_agent

# callback(agent, metrics) after each training iteration; returning False stops `learn`.
Callback = Callable[["PolicyGradientAgent", dict[str, float]], bool | None]


class PolicyGradientConfig(StrictModel):
    """Hyper-parameters common to gmrl's policy-gradient agents."""

    num_envs: int = Field(8, ge=1, description="environments stepped side by side")
    gamma: float = Field(0.99, gt=0.0, le=1.0, description="discount factor")
    hidden: list[int] = Field([64, 64], description="hidden layer sizes of policy and value nets")
    policy_lr: PositiveFloat = Field(1e-3, description="Adam step size for the policy")
    value_lr: PositiveFloat = Field(1e-3, description="Adam step size for the value net")
    entropy_coef: NonNegativeFloat = Field(0.0, description="weight of the entropy bonus")
    max_grad_norm: PositiveFloat = Field(0.5, description="gradient-norm clip per network")
    normalize_advantages: bool = Field(True, description="standardise advantages per batch")
    normalize_obs: bool = Field(False, description="standardise observations (running stats)")
    log_std: Literal["state_independent", "learned"] = Field(
        "state_independent", description="Box actions: state_independent|learned"
    )
    squash: Literal["clip", "tanh"] = Field("clip", description="Box actions: clip or tanh")
    init_log_std: FiniteFloat = Field(0.0, description="Box actions: initial log std")
    anneal_lr: bool = Field(False, description="decay step sizes linearly to 0 over the budget")


class PolicyGradientAgent:
    """Base class: a policy network, a value network and the loop that trains them."""

    algo: ClassVar[str] = ""
    config_class: ClassVar[type[PolicyGradientConfig]] = PolicyGradientConfig

    def __init__(
        self, env_id: str, params: dict[str, Any] | None = None, *,
        env_kwargs: dict[str, Any] | None = None, seed: int = 0, device: str = "auto",
    ) -> None:
        self.env_id, self.env_kwargs, self.seed = env_id, dict(env_kwargs or {}), seed
        self.config = validate_config(self.config_class, dict(params or {}), f"{self.algo} params")
        self.device = resolve_device(device)
        probe = make_env(env_id, **self.env_kwargs)
        try:
            check_algorithm_supports(self.algo, probe)
            self.observation_space = probe.observation_space
            self.action_space = probe.action_space
        finally:
            probe.close()
        cfg = self.config
        # The initial weights and every sample training draws (actions, minibatch orders) come
        # from the agent's seed alone, never from the global generators' state: the networks are
        # initialised under torch's CPU generator seeded with `seed` (forked, so the caller's is
        # untouched), and training draws from `self.generator`, which on a CPU goes on from where
        # that initialisation left off (the stream `torch.manual_seed(seed)` gave before).
        with torch.random.fork_rng(devices=[]):
            torch.random.default_generator.manual_seed(seed)
            self.encoder = ObservationEncoder(self.observation_space).to(self.device)
            dim = self.encoder.dim
            self.normalizer = RunningNormalizer(dim).to(self.device)
            try:
                self.policy = build_policy(
                    dim, self.action_space, cfg.hidden, log_std=cfg.log_std, squash=cfg.squash,
                    init_log_std=cfg.init_log_std,
                ).to(self.device)
            except (TypeError, ValueError) as exc:
                raise EnvError(f"{self.algo} on '{env_id}': {exc}") from exc
            self.value = mlp(dim, cfg.hidden, 1).to(self.device)
            after_init = torch.get_rng_state()
        self.generator = torch.Generator(self.device)
        if self.device.type == "cpu":
            self.generator.set_state(after_init)
        else:
            self.generator.manual_seed(seed)
        # `act(deterministic=False)` samples from its own stream: predictions leave training's alone
        self.act_generator = torch.Generator(self.device)
        self.act_generator.manual_seed(derive_seed(seed, "policy_gradient.act"))
        self.optimizer = torch.optim.Adam(
            [
                {"params": self.policy.parameters(), "lr": cfg.policy_lr},
                {"params": self.value.parameters(), "lr": cfg.value_lr},
            ]
        )
        self.num_steps = 0
        self.num_episodes = 0
        self.iteration = 0
        self._envs: gym.vector.SyncVectorEnv | None = None

    # ----------------------------------------------------------------------------- features
    def features(self, obs: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Encoded (and, if enabled, normalised) observations as a float batch on the device."""
        x = self.encoder(torch.as_tensor(np.asarray(obs), device=self.device))
        return self.normalizer(x) if self.config.normalize_obs else x

    def observe(self, obs: np.ndarray) -> None:
        """Update the observation statistics with a batch of freshly seen observations."""
        if self.config.normalize_obs:
            self.normalizer.update(self.encoder(torch.as_tensor(obs, device=self.device)))

    def envs(self) -> gym.vector.SyncVectorEnv:
        """The training envs, created (and seeded) on first use."""
        if self._envs is None:
            self._envs = make_vector_env(
                self.env_id, self.config.num_envs, env_kwargs=self.env_kwargs, recorded=True
            )
            self._envs.action_space.seed(self.seed)
            self._first_reset = True
        return self._envs

    def reset_envs(self) -> np.ndarray:
        """Reset every training env; the first reset after creation uses the agent's seed."""
        envs = self.envs()
        seed = derive_seed(self.seed, "train_envs") if self._first_reset else None
        self._first_reset = False
        obs, _ = envs.reset(seed=seed)
        return obs

    def close(self) -> None:
        if self._envs is not None:
            self._envs.close()
            self._envs = None

    # ----------------------------------------------------------------------------- acting
    @torch.no_grad()
    def act(self, obs: Any, deterministic: bool = False) -> np.ndarray:
        """Action(s) for one observation or a batch (batch if `obs` has the env's shape + 1 dim)."""
        array = np.asarray(obs)
        single = array.shape == tuple(self.observation_space.shape or ())
        batch = array[None] if single else array
        dist = self.policy.distribution(self.features(batch))
        raw = self.policy.sample(dist, deterministic, generator=self.act_generator)
        actions = self.policy.to_env(raw)
        return actions[0] if single else actions

    def predict(
        self, observation: Any, state: Any = None, episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """SB3's signature (`evaluate_policy` works on it): `act` for one observation or a batch.

        `state` and `episode_start` are accepted and unused (the policy has no memory).
        """
        return np.asarray(self.act(observation, deterministic=deterministic)), None

    def evaluate(self, episodes: int = 10, seed: int | None = None) -> np.ndarray:
        """Returns of `episodes` deterministic episodes (seeds `seed`, `seed+1`, ...; by default
        derived from the agent's seed for evaluation, apart from its training envs')."""
        if seed is None:
            seed = derive_seed(self.seed, "eval_env")
        return evaluate_agent(
            PolicyFunction(lambda obs: self.act(obs, deterministic=True)),
            env_factory(self.env_id, **(self.env_kwargs or {})), episodes=episodes,
            max_steps=EVAL_STEP_CAP, reset_seeds=range(seed, seed + episodes))

    # ----------------------------------------------------------------------------- training
    def train_iteration(self) -> dict[str, float]:
        """Collect experience, update the networks, return metrics (subclasses implement)."""
        raise NotImplementedError

    def learn(
        self, total_steps: int | None = None, *, episodes: int | None = None,
        callback: Callback | None = None,
    ) -> "PolicyGradientAgent":
        """Train until `total_steps` env steps or `episodes` episodes (counted across calls)."""
        if total_steps is None and episodes is None:
            raise ValueError("learn needs total_steps or episodes")
        while (total_steps is None or self.num_steps < total_steps) and (
            episodes is None or self.num_episodes < episodes
        ):
            if self.config.anneal_lr:
                done = (self.num_steps / total_steps if total_steps is not None
                        else self.num_episodes / (episodes or 1))
                self._set_lr_scale(max(1.0 - done, 0.0))
            metrics = self.train_iteration()
            self.iteration += 1
            verdict = callback(self, metrics) if callback is not None else None
            if verdict is not None and not verdict:
                break
        return self

    def _set_lr_scale(self, scale: float) -> None:
        base = (self.config.policy_lr, self.config.value_lr)
        for group, lr in zip(self.optimizer.param_groups, base, strict=True):
            group["lr"] = lr * scale

    def step_update(self, loss: torch.Tensor) -> float:
        """One clipped Adam step on `loss`; returns the pre-clip gradient norm of the policy."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.config.max_grad_norm)
        torch.nn.utils.clip_grad_norm_(self.value.parameters(), self.config.max_grad_norm)
        self.optimizer.step()
        return float(norm)

    # ----------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """Everything training depends on: networks, optimizer, counters and the training envs
        (where each is mid-episode, rebuilt by replay on load; `None` before the first reset)."""
        envs = None
        if self._envs is not None:
            envs = [env.state() for env in self._envs.envs if isinstance(env, EpisodeRecorder)]
        return {
            "policy": self.policy.state_dict(),
            "value": self.value.state_dict(),
            "normalizer": self.normalizer.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "counters": {
                "num_steps": self.num_steps, "num_episodes": self.num_episodes,
                "iteration": self.iteration,
            },
            "envs": envs,
            "collector": self.collector_state(),
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(state["policy"])
        self.value.load_state_dict(state["value"])
        self.normalizer.load_state_dict(state["normalizer"])
        self.optimizer.load_state_dict(state["optimizer"])
        counters = state["counters"]
        self.num_steps = int(counters["num_steps"])
        self.num_episodes = int(counters["num_episodes"])
        self.iteration = int(counters["iteration"])
        if state.get("generator") is not None:  # absent from checkpoints of earlier versions
            self.generator.set_state(state["generator"])
        self.close()
        if state.get("envs") is not None:  # rebuild the training envs where they were
            envs = self.envs()
            self._first_reset = False
            for env, saved in zip(envs.envs, state["envs"], strict=True):
                assert isinstance(env, EpisodeRecorder)
                env.restore(saved)
        self.load_collector_state(state.get("collector") or {})

    def collector_state(self) -> dict[str, Any]:
        """Subclasses: experience-collection state kept between iterations (e.g. last obs)."""
        return {}

    def load_collector_state(self, state: dict[str, Any]) -> None:
        """Subclasses: the inverse of `collector_state`."""

    ARTIFACT: ClassVar[str] = "pg_agent"

    def save(self, path: str | Path) -> Path:
        """Write networks and hyper-parameters as one gmrl artifact (see `load`)."""
        nets = {
            "policy": self.policy.state_dict(), "value": self.value.state_dict(),
            "normalizer": self.normalizer.state_dict(),
        }
        init = {"env_id": self.env_id, "params": self.config.model_dump(mode="json"),
                "env_kwargs": self.env_kwargs, "seed": self.seed}
        return save_artifact(path, kind=self.ARTIFACT, cls=type(self), init=init, state=nets)

    @classmethod
    def load(cls, path: str | Path, *, device: str = "auto") -> "PolicyGradientAgent":
        """Rebuild an agent saved with `save` (the env id must still be makeable)."""
        try:
            artifact = load_artifact(path, kind=cls.ARTIFACT, base=cls)
        except CheckpointError:
            _, metadata = load_tensors(path)
            if "artifact" not in metadata and "nets" in metadata:
                raise CheckpointError(
                    f"'{path}' is a policy-gradient agent in gmrl's old format, which this "
                    "version no longer reads: train it again (gmrl run) to save it anew"
                ) from None
            raise
        init = artifact.init
        agent: PolicyGradientAgent = artifact.cls(
            init["env_id"], init["params"], env_kwargs=init["env_kwargs"], seed=init["seed"],
            device=device,
        )
        nets = artifact.state

        def restore() -> None:
            agent.policy.load_state_dict(nets["policy"])
            agent.value.load_state_dict(nets["value"])
            agent.normalizer.load_state_dict(nets["normalizer"])

        restore_or_explain(path, f"its {agent.algo} networks", restore)
        return agent
