"""`TDMPCAgent`: learns a latent model, a value and a policy together, and plans with them.

Per real step (after `seed_steps` random ones, followed by as many pre-training updates):
act (MPPI through the model, seeded by the policy prior and bootstrapped with Q; or the prior
alone with `act="policy"`), store the transition, then take `updates_per_step` joint updates:

- the encoder, dynamics, reward and termination heads and the Q-ensemble are trained on
  `horizon`-step real sub-trajectories rolled out in the latent space: latent consistency with
  the encoded next observations, two-hot reward and TD-target losses (targets from the Polyak-
  averaged Q-ensemble, the minimum of two random heads, at the policy's next action), and a
  class-balanced termination loss, every step weighted by `rho^t`;
- the policy prior maximises Q (scaled by a running 5-95 % percentile range, so its step does not
  depend on the reward scale) plus a small entropy bonus, on the detached latents.

The agent honours gmrl's agent contract (`gmrl.core.agent.Agent`): `learn`, `predict` (SB3's
signature: `stable_baselines3.common.evaluation.evaluate_policy` works on it), `save` and `load`.
"""

import math
import time
from typing import Any, cast

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces

from gmrl.core.agent import Agent, Callback
from gmrl.core.device import resolve_device
from gmrl.core.errors import CheckpointError, EnvError
from gmrl.core.seeding import derive_seed, env_reset_seed, numpy_rng
from gmrl.rl.contract import check_env_spaces, space_from_json, space_json
from gmrl.worldmodel.base import reward_scale
from gmrl.worldmodel.planners import colored_noise
from gmrl.worldmodel.tdmpc.buffer import SequenceBuffer
from gmrl.worldmodel.tdmpc.config import TDMPCConfig
from gmrl.worldmodel.tdmpc.model import LatentModel
from gmrl.worldmodel.tdmpc.planner import MPPIPlanner

HOLDOUT_SCORED = 5_000  # most recent held-out steps scored by `model_metrics`


def episode_discount(episode_length: int | None) -> float:
    """TD-MPC2's rule: (T/5 - 1) / (T/5) clipped to [0.95, 0.995]; 0.99 when T is unknown."""
    if not episode_length:
        return 0.99
    frac = episode_length / 5
    return float(min(max((frac - 1) / frac, 0.95), 0.995))


def check_spaces(observation_space: gym.Space, action_space: gym.Space, env_name: str) -> None:
    """Refuse spaces the latent agent cannot handle, with one line saying what to do."""
    if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 1:
        raise EnvError(
            f"env '{env_name}' has {observation_space} observations: the latent agent needs a "
            "1-D Box (wrap it in gymnasium.wrappers.FlattenObservation)"
        )
    if not isinstance(action_space, (spaces.Box, spaces.Discrete)):
        raise EnvError(f"env '{env_name}' has {type(action_space).__name__} actions: use Box "
                       "or Discrete")
    if isinstance(action_space, spaces.Box) and len(action_space.shape) != 1:
        raise EnvError(f"env '{env_name}' has actions of shape {action_space.shape}: flatten them")


class TDMPCAgent(Agent):
    """A TD-MPC2-class agent for Box observations and Box or Discrete actions.

    Args:
        env: the real env to learn in (may be None for an agent that only acts, e.g. loaded).
        config: `TDMPCConfig` or a dict of its fields (defaults: one config for every task).
        seed: every random stream (env resets, random steps, sampling, planning) derives from it.
        device: "auto" (CUDA when present), "cpu", "cuda"...
        observation_space / action_space: needed only when `env` is None.
    """

    name = "tdmpc"

    def __init__(
        self, env: gym.Env | None = None, config: TDMPCConfig | dict[str, Any] | None = None, *,
        seed: int = 0, device: str = "auto", observation_space: gym.Space | None = None,
        action_space: gym.Space | None = None,
    ) -> None:
        self.env = env
        self.env_name = str(getattr(getattr(env, "spec", None), "id", None) or type(env).__name__)
        observation_space = observation_space or env.observation_space  # type: ignore[union-attr]
        action_space = action_space or env.action_space  # type: ignore[union-attr]
        check_spaces(observation_space, action_space, self.env_name)
        self.observation_space = cast(spaces.Box, observation_space)
        self.action_space = cast(spaces.Box | spaces.Discrete, action_space)
        self.config = config if isinstance(config, TDMPCConfig) else TDMPCConfig.model_validate(
            config or {})
        self.seed = int(seed)
        self.device = resolve_device(device)
        self.discrete = isinstance(self.action_space, spaces.Discrete)
        action_dim = int(self.action_space.n if isinstance(self.action_space, spaces.Discrete)
                         else self.action_space.shape[0])
        obs_dim = int(self.observation_space.shape[0])
        spec = getattr(env, "spec", None)
        self.discount = self.config.discount or episode_discount(
            getattr(spec, "max_episode_steps", None))
        cfg = self.config
        # initial weights from the agent's own seed, not the global generator's state: the
        # same seed gives the same agent whatever ran before in the process
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(seed, "tdmpc_init"))
            self.model = LatentModel(obs_dim, action_dim, self.discrete, cfg).to(self.device)
        encoder: list[torch.nn.Parameter] = list(self.model.encoder.parameters())
        rest: list[torch.nn.Parameter] = [p for name, p in self.model.named_parameters()
                if not name.startswith(("encoder.", "policy.", "target_qs."))]
        groups: list[dict[str, Any]] = [{"params": rest}]
        if encoder:  # (state dynamics have no encoder)
            groups.insert(0, {"params": encoder, "lr": cfg.lr * cfg.encoder_lr_scale})
        self.optim = torch.optim.Adam(groups, lr=cfg.lr, fused=_fused(self.device))
        self.pi_optim = torch.optim.Adam(self.model.policy.parameters(), lr=cfg.lr, eps=1e-5,
                                         fused=_fused(self.device))
        self.planner = MPPIPlanner(self.model, cfg, self.discount)
        self._losses = self._model_losses
        if cfg.compile:  # shapes are fixed (batch, horizon, samples): no dynamic shapes
            self._losses = torch.compile(self._model_losses, dynamic=False)
            self.planner.score = torch.compile(self.planner.returns, dynamic=False)
        self.generator = torch.Generator(self.device)
        self.generator.manual_seed(derive_seed(seed, "tdmpc_torch"))
        self.action_rng = numpy_rng(seed, "tdmpc_random_actions")
        self.buffer = SequenceBuffer(obs_dim, action_dim, cfg.buffer_size, cfg.horizon,
                                     cfg.holdout_fraction, numpy_rng(seed, "tdmpc_buffer"))
        if isinstance(self.action_space, spaces.Box):
            low = np.asarray(self.action_space.low, np.float64)
            high = np.asarray(self.action_space.high, np.float64)
            bounded = np.isfinite(low) & np.isfinite(high)
            self._low = np.where(bounded, low, -1.0)
            self._high = np.where(bounded, high, 1.0)
        self._warmup: np.ndarray | None = None  # colored seed-step actions (noise_beta > 0)
        self.num_timesteps = 0
        self.updates = 0
        self._update_credit = 0.0
        self.q_scale = 1.0
        self._neg_pos = [1.0, 0.0]  # running (negatives, positives) of termination labels
        self.episode_returns: list[float] = []
        self.episode_index = 0
        self._obs: np.ndarray | None = None
        self._plan_state: np.ndarray | None = None
        self._episode_return = 0.0
        self._episode_actions: list[np.ndarray] = []  # replayed on resume
        self.timings = {"act_s": 0.0, "update_s": 0.0, "act_steps": 0, "update_steps": 0,
                        "plan_iterations": 0}
        self.last_losses: dict[str, float] = {}

    # ------------------------------------------------------------------ actions
    def _to_env(self, vector: np.ndarray) -> Any:
        """An action vector ([-1, 1] Box, or an index for Discrete) -> the env's action."""
        if isinstance(self.action_space, spaces.Discrete):
            return int(vector) + int(self.action_space.start)
        scaled = self._low + (np.clip(vector, -1, 1) + 1) * 0.5 * (self._high - self._low)
        return scaled.astype(self.action_space.dtype)

    def _stored(self, vector: np.ndarray) -> np.ndarray:
        """What the buffer keeps for an action: one-hot for Discrete, else the vector."""
        if self.discrete:
            return np.eye(self.model.action_dim, dtype=np.float32)[int(vector)]
        return np.asarray(vector, np.float32)

    def _random_action(self) -> np.ndarray:
        """A seed step's action: uniform, or (Box, `noise_beta > 0`) the next step of one
        colored-noise sequence derived from the seed alone (so a resumed run draws the same)."""
        if self.discrete:
            return np.asarray(self.action_rng.integers(self.model.action_dim))
        beta = self.config.noise_beta
        if beta <= 0:
            return self.action_rng.uniform(-1, 1, self.model.action_dim).astype(np.float32)
        if self._warmup is None:
            generator = torch.Generator().manual_seed(derive_seed(self.seed, "tdmpc_warmup"))
            noise = colored_noise((self.model.action_dim,), max(self.config.seed_steps, 2),
                                  beta, generator)
            self._warmup = noise.clamp(-1, 1).t().numpy().astype(np.float32)
        return self._warmup[self.num_timesteps % len(self._warmup)]

    @torch.no_grad()
    def _act(self, obs: np.ndarray, state: np.ndarray | None, episode_start: np.ndarray | None,
             explore: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Action vectors (E, A) or indices (E,) for observations (E, D), and the plan state."""
        self.model.eval()
        z = self.model.encode(torch.as_tensor(obs, dtype=torch.float32, device=self.device))
        generator = self.generator
        if not explore:  # deterministic acting is a pure function of weights, obs and state
            generator = torch.Generator(self.device)
            generator.manual_seed(derive_seed(self.seed, "tdmpc_deterministic_plan"))
        if self.config.act == "policy":
            action, _ = self.model.policy_sample(z, deterministic=not explore,
                                                 generator=generator)
            out = action.argmax(-1) if self.discrete else action
            return out.cpu().numpy(), None
        fresh = self.planner.initial(obs.shape[0], self.device)
        if state is None or np.shape(state) != tuple(fresh.shape):
            warm = fresh
        else:
            warm = self.planner.shift(torch.as_tensor(state, device=self.device))
            if episode_start is not None:
                restart = torch.as_tensor(np.asarray(episode_start, bool), device=self.device)
                warm = torch.where(restart[:, None, None], fresh, warm)
        self.planner.value_scale = self.q_scale
        if explore and self.model.novelty is not None:  # the novelty bonus's weight, in reward
            self.planner.bonus = torch.tensor(self.config.explore * reward_scale(
                self.buffer.data["reward"][: self.buffer.size]), device=self.device)
        plan = self.planner.plan(z, warm, explore=explore, generator=generator)
        return plan.action.cpu().numpy(), plan.mean.cpu().numpy()

    def predict(
        self, observation: np.ndarray, state: Any = None, episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """Act for one observation or a batch (SB3's signature; `state` is the plan to warm-start).

        Pass the returned state back with the next observation (and `episode_start` where an
        episode began) to warm-start the planner, as SB3's `evaluate_policy` does.
        """
        obs = np.asarray(observation, dtype=np.float32)
        single = obs.ndim == 1
        batch = obs[None] if single else obs
        vectors, new_state = self._act(batch, state, episode_start, explore=not deterministic)
        actions = [self._to_env(v) for v in vectors]
        if single:
            return np.asarray(actions[0]), new_state
        return np.stack([np.asarray(a) for a in actions]), new_state

    # ------------------------------------------------------------------ the real env
    def _reset(self) -> None:
        assert self.env is not None
        self.episode_index += 1
        seed = env_reset_seed(self.seed, f"train_episode_{self.episode_index}")
        obs, _ = self.env.reset(seed=seed)
        self._obs = self._checked_obs(obs, "reset")
        self._plan_state, self._episode_return = None, 0.0
        self._episode_actions = []
        self.buffer.new_episode()

    def _checked_obs(self, obs: Any, where: str) -> np.ndarray:
        array = np.asarray(obs, dtype=np.float32)
        expected = self.observation_space.shape
        if array.shape != expected:
            raise EnvError(f"env '{self.env_name}' returned an observation of shape {array.shape}"
                           f" at {where} (real step {self.num_timesteps}); its space says "
                           f"{expected}: fix the env or its observation_space")
        if not np.isfinite(array).all():
            bad = array[~np.isfinite(array)][0]
            raise EnvError(f"env '{self.env_name}' returned a non-finite observation ({bad}) at "
                           f"{where} (real step {self.num_timesteps}): fix the env")
        return array

    def _env_step(self, vector: np.ndarray) -> tuple[np.ndarray, float, bool, bool]:
        assert self.env is not None
        next_obs, reward, terminated, truncated, _ = self.env.step(self._to_env(vector))
        reward = float(reward)
        if not math.isfinite(reward):
            raise EnvError(f"env '{self.env_name}' returned reward {reward} at real step "
                           f"{self.num_timesteps}: rewards must be finite; fix the env")
        return (self._checked_obs(next_obs, "step"), reward, bool(terminated), bool(truncated))

    def learn(self, total_timesteps: int, callback: Callback | None = None) -> "TDMPCAgent":
        """Take `total_timesteps` more real steps, learning as it goes (see the module doc)."""
        if self.env is None:
            raise EnvError("this agent has no env to learn in: pass one to TDMPCAgent(env) or "
                           "TDMPCAgent.load(path, env=...)")
        cfg = self.config
        for _ in range(int(total_timesteps)):
            if self._obs is None:
                self._reset()
            obs = self._obs
            assert obs is not None
            if self.num_timesteps < cfg.seed_steps:
                vector = self._random_action()
            else:
                start = time.perf_counter()
                actions, self._plan_state = self._act(obs[None], self._plan_state, None, True)
                vector = actions[0]
                self.timings["act_s"] += time.perf_counter() - start
                self.timings["act_steps"] += 1
                self.timings["plan_iterations"] += self.planner.iterations_used
            next_obs, reward, terminated, truncated = self._env_step(vector)
            self._episode_actions.append(np.asarray(vector))
            self.buffer.add(obs, self._stored(vector), reward, next_obs, terminated)
            self.num_timesteps += 1
            self._episode_return += reward
            self._obs = next_obs
            if terminated or truncated:
                self.episode_returns.append(self._episode_return)
                self._obs = None
            self._train_after_step()
            if callback is not None and callback(self) is False:
                break
        return self

    def _train_after_step(self) -> None:
        cfg = self.config
        if self.num_timesteps < cfg.seed_steps or not self.buffer.ready():
            return
        if self.updates == 0:  # pre-train on the random data, as TD-MPC2 does
            count = cfg.seed_steps
        else:
            self._update_credit += cfg.updates_per_step
            count = int(self._update_credit)
            self._update_credit -= count
        start = time.perf_counter()
        for _ in range(count):
            self.update()
        self.timings["update_s"] += time.perf_counter() - start
        self.timings["update_steps"] += 1

    # ------------------------------------------------------------------ learning
    def update(self) -> dict[str, float]:
        """One joint update of model, Q-ensemble and policy on a sampled batch; its losses."""
        cfg, model = self.config, self.model
        batch = self.buffer.sample(cfg.batch_size, self.device, cfg.td_steps, self.discount,
                                   cfg.absorbing, cfg.return_bound)
        obs, action, reward = batch["obs"], batch["action"], batch["reward"]
        terminated, mask = batch["terminated"], batch["mask"]
        horizon = obs.shape[0]
        # rho^t per step, and steps past an episode's end left out (mask 0)
        weights = (cfg.rho ** torch.arange(horizon, device=self.device, dtype=torch.float32)
                   ).unsqueeze(1) * mask / mask.shape[1]
        self._update_termination_ratio(terminated[mask > 0])
        self._update_obs_stats(obs[0])
        model.train()
        with torch.no_grad():
            next_z = model.encode(batch["next_obs"])
            bootstrap_value = self._bootstrap_value(model.encode(batch["bootstrap_obs"]), batch)
            td_target = (batch["n_return"]
                         + batch["bootstrap_weight"] * bootstrap_value[batch["bootstrap_index"]])
            bound_share = 0.0
            if "bound_return" in batch:
                td_target, bound_share = self._bounded_target(td_target, batch, mask)
        losses = self._losses(obs[0], action, reward, terminated, batch["next_obs"], next_z,
                              td_target, weights)
        consistency, reward_loss, value_loss, termination_loss, decoder_loss, zs = losses
        novelty_loss = torch.zeros((), device=self.device)
        real_z = None
        if model.novelty is not None or cfg.prior_imitation > 0:
            with torch.no_grad():
                real_z = model.encode(obs)  # the real states, (H, B, L)
        if model.novelty is not None and real_z is not None:  # real changes only
            novelty_loss = model.novelty_loss(real_z, action, next_z, mask / mask.shape[1],
                                              rate=1.0 if self.updates == 0 else 0.01)
        total = (cfg.consistency_coef * consistency + cfg.reward_coef * reward_loss
                 + cfg.value_coef * value_loss + cfg.termination_coef * termination_loss
                 + cfg.decoder_coef * decoder_loss + novelty_loss) / horizon
        self.optim.zero_grad(set_to_none=True)
        total.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        self.optim.step()
        imitation = (real_z, action) if real_z is not None and cfg.prior_imitation > 0 else None
        policy_loss = self._update_policy(zs.detach(), weights, imitation)
        model.update_targets(cfg.tau)
        self.updates += 1
        self.last_losses = {
            "consistency": float(consistency.detach()) / horizon,
            "reward": float(reward_loss.detach()) / horizon,
            "value": float(value_loss.detach()) / horizon,
            "termination": float(termination_loss.detach()) / horizon,
            "decoder": float(decoder_loss.detach()) / horizon,
            "novelty": float(novelty_loss.detach()) / horizon,
            "policy": policy_loss, "grad_norm": float(grad_norm), "q_scale": self.q_scale,
            "bound_share": bound_share,
        }
        return self.last_losses

    def _bounded_target(self, td_target: torch.Tensor, batch: dict[str, torch.Tensor],
                        mask: torch.Tensor) -> tuple[torch.Tensor, float]:
        """`td_target` raised to the `return_bound`-step return where that is larger (the
        return the agent collected bounds its states' worth from below; with `exact`, only
        returns that ended in a termination), and the share of the sampled steps it raised:
        how much the bound decides the value."""
        if self.config.return_bound_kind == "exact":  # returns that ended in a termination
            # (no value, so no random draw: without terminations nothing changes at all)
            floor = torch.where(batch["bound_weight"] > 0, -torch.inf, batch["bound_return"])
        else:
            bound_value = self.model.value(self.model.encode(batch["bound_obs"]), target=True,
                                           reduce="min", generator=self.generator,
                                           heads=self.config.target_heads)
            floor = batch["bound_return"] + batch["bound_weight"] * bound_value
        raised = (floor > td_target) & (mask > 0)
        share = float(raised.sum()) / max(float((mask > 0).sum()), 1.0)
        return torch.maximum(td_target, floor), share

    def _bootstrap_value(self, z: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The value the TD targets bootstrap with at latent `z` (`bootstrap_action`): the
        prior's (`_expanded_value`), or, with `taken`, the target Q (minimum of `target_heads`)
        at the action the agent took there, where it took one."""
        cfg = self.config
        value = self._expanded_value(z)
        if cfg.bootstrap_action == "prior":
            return value
        taken = self.model.q_value(z, batch["bootstrap_action"], target=True, reduce="min",
                                   generator=self.generator, heads=cfg.target_heads)
        return torch.where(batch["bootstrap_acted"] > 0, taken, value)

    def _expanded_value(self, z: torch.Tensor) -> torch.Tensor:
        """The TD target's bootstrap at latent `z`: the target Q (minimum of `target_heads`) at
        the policy's action, after `value_expansion` imagined policy steps whose predicted
        rewards, discounted and weighted by the predicted survival, are added on the way."""
        cfg, model = self.config, self.model
        total = torch.zeros(z.shape[:-1], device=z.device)
        weight = torch.ones_like(total)
        for _ in range(cfg.value_expansion):
            action, _ = model.policy_sample(z, generator=self.generator)
            total = total + weight * model.codec.decode(model.reward_logits(z, action))
            z = model.next(z, action)
            weight = weight * self.discount * (1 - model.termination_prob(z))
        return total + weight * model.value(z, target=True, reduce="min",
                                            generator=self.generator, heads=cfg.target_heads)

    def _model_losses(
        self, first_obs: torch.Tensor, action: torch.Tensor, reward: torch.Tensor,
        terminated: torch.Tensor, next_obs: torch.Tensor, next_z: torch.Tensor,
        td_target: torch.Tensor, weights: torch.Tensor,
    ) -> tuple[torch.Tensor, ...]:
        """The model's five weighted losses over a latent rollout, and the rolled-out latents.

        A pure tensor function (no host syncs), so `torch.compile` can fuse it when asked for.
        """
        model = self.model
        horizon = action.shape[0]
        z = model.encode(first_obs)
        latents = []
        consistency = torch.zeros((), device=first_obs.device)
        for t in range(horizon):
            latents.append(z)
            z = model.next(z, action[t])
            consistency = consistency + (weights[t] * (z - next_z[t]).pow(2).mean(-1)).sum()
        zs = torch.stack(latents)  # (H, B, L): z_t the model predicted for each step
        next_zs = torch.cat([zs[1:], z.unsqueeze(0)])
        reward_loss = (model.codec.loss(model.reward_logits(zs, action), reward) * weights).sum()
        q_logits = model.q_logits(zs, action)  # (Q, H, B, bins)
        value_loss = (model.codec.loss(q_logits, td_target.unsqueeze(0)).mean(0)
                      * weights).sum()
        pos_weight = torch.exp(model.termination_log_ratio)
        termination_loss = (F.binary_cross_entropy_with_logits(
            model.termination_logit(next_zs), terminated, pos_weight=pos_weight,
            reduction="none") * weights).sum()
        decoder_loss = torch.zeros((), device=first_obs.device)
        if model.decoder is not None:
            decoder_loss = ((model.decoder(next_zs) - model.standardise(next_obs)
                             ).pow(2).mean(-1) * weights).sum()
        return consistency, reward_loss, value_loss, termination_loss, decoder_loss, zs

    @torch.no_grad()
    def _update_obs_stats(self, obs: torch.Tensor) -> None:
        """Running mean and spread of observations (the decoder's targets are standardised)."""
        rate = 1.0 if self.updates == 0 else 0.01
        self.model.obs_mean.lerp_(obs.mean(0), rate)
        spread = (obs - self.model.obs_mean).pow(2).mean(0).sqrt().clamp_min(1e-3)
        self.model.obs_std.lerp_(spread, rate)

    def _update_termination_ratio(self, terminated: torch.Tensor) -> None:
        """Running negatives / positives of the labels: the class-balancing weight."""
        positives = float(terminated.sum())
        negatives = float(terminated.numel()) - positives
        self._neg_pos[0] = 0.99 * self._neg_pos[0] + 0.01 * negatives
        self._neg_pos[1] = 0.99 * self._neg_pos[1] + 0.01 * positives
        if self._neg_pos[1] > 1e-6:
            ratio = min(max(self._neg_pos[0] / self._neg_pos[1], 1.0), 1000.0)
            self.model.termination_log_ratio.fill_(math.log(ratio))

    def _update_policy(self, zs: torch.Tensor, weights: torch.Tensor,
                       imitation: tuple[torch.Tensor, torch.Tensor] | None = None) -> float:
        model = self.model
        model.qs.requires_grad_(False)  # the policy's loss flows through Q, not into it
        try:
            return self._policy_step(zs, weights, imitation)
        finally:
            model.qs.requires_grad_(True)

    def _policy_step(self, zs: torch.Tensor, weights: torch.Tensor,
                     imitation: tuple[torch.Tensor, torch.Tensor] | None = None) -> float:
        """One step of the prior: Q (over its running scale) plus the entropy bonus on the
        model's latents; with `imitation` (real latents, the actions taken there), also
        `prior_imitation` x the negative log-likelihood of those actions."""
        cfg, model = self.config, self.model
        if self.discrete:
            log_probs = F.log_softmax(model.policy(zs), -1)  # (H, B, n)
            n = model.action_dim
            every = zs.unsqueeze(-2).expand(*zs.shape[:-1], n, zs.shape[-1])
            eye = torch.eye(n, device=self.device).expand(*zs.shape[:-1], n, n)
            q = model.q_value(every, eye, generator=self.generator)  # (H, B, n)
            self._update_scale(q.detach())
            per_state = (log_probs.exp() * (cfg.entropy_coef * log_probs - q / self.q_scale)
                         ).sum(-1)
        else:
            action, log_prob = model.policy_sample(zs, generator=self.generator)
            q = model.q_value(zs, action, generator=self.generator)
            self._update_scale(q.detach())
            per_state = cfg.entropy_coef * log_prob - q / self.q_scale
        if imitation is not None:
            real_z, taken = imitation
            per_state = per_state - cfg.prior_imitation * model.policy_log_prob(real_z, taken)
        loss = (per_state * weights).sum() / weights.shape[0]
        self.pi_optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.policy.parameters(), cfg.grad_clip)
        self.pi_optim.step()
        return float(loss.detach())

    def _update_scale(self, q: torch.Tensor) -> None:
        """Running 5-95 % range of Q (TD-MPC2's `RunningScale`), at least 1."""
        flat = q[0].reshape(-1).float()
        spread = float(torch.quantile(flat, 0.95) - torch.quantile(flat, 0.05))
        target = max(spread, 1.0)
        self.q_scale = target if self.updates == 0 else 0.99 * self.q_scale + 0.01 * target

    # ------------------------------------------------------------------ diagnostics
    @torch.no_grad()
    def model_metrics(self) -> dict[str, float]:
        """Reward error and termination precision/recall on held-out real steps (not trained on).

        Precision and recall are NaN when undefined (no predicted / no true terminations); the
        counts beside them say how many there were.
        """
        held = self.buffer.holdout_steps(HOLDOUT_SCORED, self.device)
        n = int(held["reward"].shape[0])
        keys = ("reward_mae", "consistency_mse", "termination_true", "termination_hits",
                "termination_false_alarms", "termination_precision", "termination_recall")
        metrics: dict[str, float] = {"holdout_steps": float(n), **dict.fromkeys(keys, math.nan)}
        if n == 0:  # every key present from the first row on: one CSV header per run
            return metrics
        self.model.eval()
        z = self.model.encode(held["obs"])
        action = held["action"]
        predicted_reward = self.model.codec.decode(self.model.reward_logits(z, action))
        next_z = self.model.next(z, action)
        alarm = self.model.termination_prob(next_z) > 0.5
        truth = held["terminated"] > 0.5
        hits = int((alarm & truth).sum())
        false_alarms = int((alarm & ~truth).sum())
        misses = int((~alarm & truth).sum())
        metrics.update({
            "reward_mae": float((predicted_reward - held["reward"]).abs().mean()),
            "consistency_mse": float(F.mse_loss(next_z, self.model.encode(held["next_obs"]))),
            "termination_true": float(int(truth.sum())),
            "termination_hits": float(hits),
            "termination_false_alarms": float(false_alarms),
            "termination_precision": hits / (hits + false_alarms) if hits + false_alarms
            else float("nan"),
            "termination_recall": hits / (hits + misses) if hits + misses else float("nan"),
        })
        return metrics

    # ------------------------------------------------------------------ save / load
    def _config_json(self) -> dict[str, Any]:
        return {
            "config": self.config.model_dump(mode="json"),
            "observation_space": space_json(self.observation_space),
            "action_space": space_json(self.action_space),
            "discount": self.discount, "seed": self.seed, "num_timesteps": self.num_timesteps,
            "q_scale": self.q_scale,
        }

    def _tensors(self) -> dict[str, torch.Tensor]:
        return dict(self.model.state_dict())

    @classmethod
    def _from_saved(cls, config: dict[str, Any], tensors: dict[str, torch.Tensor],
                    env: Any) -> "TDMPCAgent":
        try:
            settings = TDMPCConfig.model_validate({**config["config"],
                                                   "discount": config["discount"]})
            observation_space = space_from_json(config["observation_space"])
            action_space = space_from_json(config["action_space"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"saved tdmpc agent config is not usable: {exc}") from exc
        check_env_spaces(env, observation_space, action_space, cls.name)
        agent = cls(env, settings, seed=int(config["seed"]),
                    observation_space=observation_space, action_space=action_space)
        try:
            agent.model.load_state_dict(tensors)
        except RuntimeError as exc:
            raise CheckpointError(f"saved tdmpc weights do not fit the model: "
                                  f"{str(exc).splitlines()[0]}") from exc
        agent.num_timesteps = int(config["num_timesteps"])
        agent.q_scale = float(config["q_scale"])
        return agent

    # ------------------------------------------------------------------ exact resume
    def state_dict(self) -> dict[str, Any]:
        """Everything the agent's future depends on (for `gmrl run --resume`)."""
        return {
            "model": dict(self.model.state_dict()),
            "optim": self.optim.state_dict(), "pi_optim": self.pi_optim.state_dict(),
            "buffer": self.buffer.state_dict(),
            "buffer_rng": self.buffer.rng.bit_generator.state,
            "action_rng": self.action_rng.bit_generator.state,
            "generator": self.generator.get_state(),
            "counters": {
                "num_timesteps": self.num_timesteps, "updates": self.updates,
                "update_credit": self._update_credit, "q_scale": self.q_scale,
                "neg_pos": list(self._neg_pos), "episode_index": self.episode_index,
                "episode_returns": list(self.episode_returns),
                "in_episode": self._obs is not None,
            },
            "episode_actions": (torch.as_tensor(np.stack(self._episode_actions))
                                if self._episode_actions else torch.zeros(0)),
            "plan_state": (torch.as_tensor(self._plan_state) if self._plan_state is not None
                           else torch.zeros(0)),
            "timings": dict(self.timings),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict()`; the current real episode is replayed from its seed."""
        self.model.load_state_dict(state["model"])
        self.optim.load_state_dict(state["optim"])
        self.pi_optim.load_state_dict(state["pi_optim"])
        self.buffer.load_state_dict(state["buffer"])
        self.buffer.rng.bit_generator.state = _rng_state(state["buffer_rng"])
        self.action_rng.bit_generator.state = _rng_state(state["action_rng"])
        self.generator.set_state(state["generator"])
        counters = state["counters"]
        self.updates = int(counters["updates"])
        self._update_credit = float(counters["update_credit"])
        self.q_scale = float(counters["q_scale"])
        self._neg_pos = [float(v) for v in counters["neg_pos"]]
        self.episode_returns = [float(v) for v in counters["episode_returns"]]
        self.timings.update(state["timings"])
        self.episode_index = int(counters["episode_index"]) - 1
        self._obs = None
        if counters["in_episode"]:
            self._replay_episode(state["episode_actions"], self.buffer.current_holdout)
        self.num_timesteps = int(counters["num_timesteps"])
        plan = state["plan_state"]
        self._plan_state = plan.numpy() if plan.numel() else None

    def _replay_episode(self, actions: torch.Tensor, holdout: bool) -> None:
        """Bring the env back to where the checkpoint was taken, mid-episode."""
        assert self.env is not None
        self.episode_index += 1
        seed = env_reset_seed(self.seed, f"train_episode_{self.episode_index}")
        obs, _ = self.env.reset(seed=seed)
        self._episode_return = 0.0
        self._episode_actions = []
        for vector in actions.numpy():
            obs, reward, _, _, _ = self.env.step(self._to_env(vector))
            self._episode_return += float(reward)
            self._episode_actions.append(vector)
        self._obs = np.asarray(obs, np.float32)


def _fused(device: torch.device) -> bool:
    """Adam's fused kernel (one op per step instead of several per parameter) where torch has
    one (CPU and CUDA): a third off the update's cost on 2 CPU cores."""
    return device.type in ("cpu", "cuda")


def _rng_state(state: dict[str, Any]) -> dict[str, Any]:
    """A NumPy bit-generator state as JSON round-trips it (ints may come back as floats)."""
    inner = state["state"]
    return {**state, "state": {key: int(value) for key, value in inner.items()},
            "has_uint32": int(state["has_uint32"]), "uinteger": int(state["uinteger"])}
