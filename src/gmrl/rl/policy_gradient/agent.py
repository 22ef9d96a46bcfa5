"""What REINFORCE and actor-critic share: networks, acting, the training loop, save/load.

A subclass supplies its hyper-parameter model (`config_class`) and `train_iteration()`, which
collects experience, takes a gradient step and returns the metrics to log. `learn()` repeats that
until a budget of env steps or episodes is spent, calling the caller's callback after every
iteration (return False from it to stop early).

Weights are saved with `save(path)` as one safetensors file (tensors + JSON metadata naming the
class, env and hyper-parameters); `PolicyGradientAgent.load(path)` rebuilds the agent. Nothing is
pickled.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from pydantic import Field

from gmrl.core.checkpoint import flatten_state, load_tensors, save_tensors, unflatten_state
from gmrl.core.config import StrictModel, validate_config
from gmrl.core.device import resolve_device
from gmrl.core.errors import CheckpointError, EnvError
from gmrl.rl.envs import check_algorithm_supports, evaluate_policy, make_env, make_vector_env
from gmrl.rl.policy_gradient.networks import (
    ObservationEncoder,
    RunningNormalizer,
    build_policy,
    mlp,
)

# callback(agent, metrics) after each training iteration; returning False stops `learn`.
Callback = Callable[["PolicyGradientAgent", dict[str, float]], bool | None]


class PolicyGradientConfig(StrictModel):
    """Hyper-parameters common to gmrl's policy-gradient agents."""

    num_envs: int = Field(8, ge=1, description="environments stepped side by side")
    gamma: float = Field(0.99, gt=0.0, le=1.0, description="discount factor")
    hidden: list[int] = Field([64, 64], description="hidden layer sizes of policy and value nets")
    policy_lr: float = Field(1e-3, gt=0.0, description="Adam step size for the policy")
    value_lr: float = Field(1e-3, gt=0.0, description="Adam step size for the value net")
    entropy_coef: float = Field(0.0, ge=0.0, description="weight of the entropy bonus")
    max_grad_norm: float = Field(0.5, gt=0.0, description="gradient-norm clip per network")
    normalize_advantages: bool = Field(True, description="standardise advantages per batch")
    normalize_obs: bool = Field(False, description="standardise observations (running stats)")
    log_std: str = Field("state_independent", description="Box actions: state_independent|learned")
    squash: str = Field("clip", description="Box actions: clip (to bounds) or tanh")
    init_log_std: float = Field(0.0, description="Box actions: initial log standard deviation")
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
        torch.manual_seed(seed)  # network initialisation and action sampling follow the seed
        cfg = self.config
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
                self.env_id, self.config.num_envs, env_kwargs=self.env_kwargs
            )
            self._envs.action_space.seed(self.seed)
            self._first_reset = True
        return self._envs

    def reset_envs(self) -> np.ndarray:
        """Reset every training env; the first reset after creation uses the agent's seed."""
        envs = self.envs()
        seed = self.seed + 1000 * (self.iteration + 1) if self._first_reset else None
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
        single = array.shape == tuple(self.observation_space.shape)
        batch = array[None] if single else array
        dist = self.policy.distribution(self.features(batch))
        actions = self.policy.to_env(self.policy.sample(dist, deterministic))
        return actions[0] if single else actions

    def evaluate(self, episodes: int = 10, seed: int = 10_000) -> np.ndarray:
        """Returns of `episodes` deterministic episodes (seeds `seed`, `seed+1`, ...)."""
        return evaluate_policy(
            lambda obs: self.act(obs, deterministic=True), self.env_id, episodes=episodes,
            seed=seed, env_kwargs=self.env_kwargs,
        )

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
                        else self.num_episodes / episodes)
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
        """Everything a checkpoint needs to continue training (envs restart from a reset)."""
        return {
            "policy": self.policy.state_dict(),
            "value": self.value.state_dict(),
            "normalizer": self.normalizer.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "counters": {
                "num_steps": self.num_steps, "num_episodes": self.num_episodes,
                "iteration": self.iteration,
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(state["policy"])
        self.value.load_state_dict(state["value"])
        self.normalizer.load_state_dict(state["normalizer"])
        if "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])
        counters = state.get("counters", {})
        self.num_steps = int(counters.get("num_steps", 0))
        self.num_episodes = int(counters.get("num_episodes", 0))
        self.iteration = int(counters.get("iteration", 0))
        self.close()  # the next iteration starts from freshly reset envs

    def save(self, path: str | Path) -> Path:
        """Write weights and hyper-parameters to one safetensors file."""
        nets = {
            "policy": self.policy.state_dict(), "value": self.value.state_dict(),
            "normalizer": self.normalizer.state_dict(),
        }
        tensors, skeleton = flatten_state(nets)
        metadata = {
            "class": type(self).__name__, "algo": self.algo, "env_id": self.env_id,
            "env_kwargs": self.env_kwargs, "seed": self.seed,
            "config": self.config.model_dump(mode="json"), "nets": skeleton,
        }
        return save_tensors(path, tensors, metadata)

    @classmethod
    def load(cls, path: str | Path, *, device: str = "auto") -> "PolicyGradientAgent":
        """Rebuild an agent saved with `save` (the env id must still be makeable)."""
        tensors, metadata = load_tensors(path)
        agents = {sub.__name__: sub for sub in _all_subclasses(PolicyGradientAgent)}
        target = agents.get(metadata.get("class", ""))
        if target is None or not issubclass(target, cls) or "nets" not in metadata:
            raise CheckpointError(f"'{path}' is not a gmrl policy-gradient agent ({cls.__name__})")
        agent = target(
            metadata["env_id"], metadata["config"], env_kwargs=metadata["env_kwargs"],
            seed=metadata["seed"], device=device,
        )
        nets = unflatten_state(tensors, metadata["nets"])
        try:
            agent.policy.load_state_dict(nets["policy"])
            agent.value.load_state_dict(nets["value"])
            agent.normalizer.load_state_dict(nets["normalizer"])
        except (RuntimeError, KeyError) as exc:
            raise CheckpointError(f"'{path}' does not match its agent's networks: re-save") from exc
        return agent


def _all_subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_all_subclasses(sub)]
    return found
