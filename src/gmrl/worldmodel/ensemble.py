"""Probabilistic ensemble of Gaussian MLPs: the PETS / MBPO dynamics model for vector states.

Each of `ensemble_size` members maps a normalised (obs, action) to a diagonal Gaussian over the
normalised next-state delta (and, when not given in closed form, the reward) plus a termination
logit. All members run as one batched tensor op (`BatchedLinear`, weights `(E, in, out)`), so an
ensemble costs one forward pass, not `E`.

Training follows PETS (Chua et al. 2018) and MBPO (Janner et al. 2019):
- inputs and targets are standardised with statistics of the data seen so far;
- the log-variance is squashed between learned soft bounds (`max_logvar`, `min_logvar`), with a
  small penalty that keeps the bounds tight;
- each member trains on its own bootstrap resample of the training split;
- a held-out split drives early stopping, and each member keeps its best-on-holdout weights.

`step` samples: each row goes through one randomly chosen member and draws from its Gaussian
(TS-1), or uses the members' mean (`sampling="mean"`). `uncertainty` is the disagreement of the
members' means (the epistemic part), which DreamEnv uses to cut off unreliable imagined rollouts;
`disagreement` is the same in normalised units, the planners' exploration signal.

Termination is a classifier of its own (`termination_net`, one per member) on the transition
(obs, action, next_obs): most tasks end on a condition of the state reached (a pole past an
angle, a lander touching down), a boundary far easier to learn from the next state than through
the dynamics from (obs, action). At prediction it reads the member's predicted next state. It is
trained with positives up-weighted by `pos_weight` = negatives /
positives (terminations are one step per episode: unweighted, "never" looks optimal). Weighting
shifts the learned logit by log(pos_weight), so the probability is calibrated back by
subtracting it (`termination_probability`); thresholding the raw logit at 0 would raise false
alarms by that factor. Planners use the probability itself (survival weighting).
"""

import copy
import itertools
import math
from typing import Any, Literal

import torch
from pydantic import Field
from torch import nn
from torch.nn import functional as F

from gmrl.core.config import NonNegativeFloat, PositiveFloat, StrictModel
from gmrl.rl.transitions import TransitionBatch
from gmrl.worldmodel.base import RewardFn, TerminationFn, WorldModel

Sampling = Literal["ts1", "mean"]


def _randn(
    shape: torch.Size, generator: torch.Generator | None, device: torch.device
) -> torch.Tensor:
    """Standard normals drawn on the generator's device (CPU generators work for CUDA models)."""
    where = generator.device if generator is not None else device
    return torch.randn(shape, generator=generator, device=where).to(device)


def _randint(
    high: int, n: int, generator: torch.Generator | None, device: torch.device
) -> torch.Tensor:
    where = generator.device if generator is not None else device
    return torch.randint(high, (n,), generator=generator, device=where).to(device)


class BatchedLinear(nn.Module):
    """`E` independent linear layers applied to `(E, batch, in)` with one `baddbmm`."""

    def __init__(self, ensemble_size: int, in_features: int, out_features: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(
            torch.empty(ensemble_size, in_features, out_features).uniform_(-bound, bound)
        )
        self.bias = nn.Parameter(torch.zeros(ensemble_size, 1, out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class EnsembleConfig(StrictModel):
    """A `GaussianEnsemble`'s architecture, optimiser and per-fit training budget.

    The one place these defaults live: the class takes this config, and recipes embed it.
    """

    ensemble_size: int = Field(default=5, ge=1, description="members E (PETS uses 5, MBPO 7)")
    hidden: int = Field(default=200, ge=1, description="width of each member's MLP")
    layers: int = Field(default=3, ge=1, description="hidden layers per member (SiLU)")
    lr: PositiveFloat = Field(default=1e-3, description="AdamW learning rate")
    weight_decay: NonNegativeFloat = Field(default=5e-5, description="AdamW weight decay")
    sampling: Sampling = Field(
        default="ts1", description="step(): ts1 (random member, sampled) or mean"
    )
    max_epochs: int = Field(default=50, ge=1, description="epochs per fit (early stopping may cut)")
    patience: int = Field(
        default=5, ge=1, description="epochs without holdout improvement before stop"
    )
    batch_size: int = Field(default=64, ge=1)
    min_updates_per_epoch: int = Field(default=10, ge=1, description="tiny data: several passes")
    holdout_ratio: float = Field(default=0.2, gt=0, lt=1, description="share held out for stopping")
    max_holdout: int = Field(default=5000, ge=1)


def _function_path(fn: Any) -> str | None:
    """'module:name' of a gmrl function (recorded in saved files), None for anything else."""
    module, name = getattr(fn, "__module__", ""), getattr(fn, "__qualname__", "")
    if fn is None or not module.startswith("gmrl.") or "<" in name:
        return None
    return f"{module}:{name}"


def _resolve_function(path: str) -> Any:
    from gmrl.core.imports import gmrl_object

    return gmrl_object(path)


class GaussianEnsemble(WorldModel):
    """Ensemble of Gaussian MLPs predicting next-state deltas, reward and termination.

    Args:
        obs_dim: length of the (flat) observation vector.
        action_dim: length of a continuous action, or the number of discrete actions.
        discrete: actions are integer indices (one-hot encoded for the network).
        config: sizes, optimiser and fit budget (`EnsembleConfig`; its defaults are the
            class's defaults).
        reward_fn, termination_fn: known functions `(obs, action, next_obs) -> (B,)`; when given,
            the network does not learn that quantity (the PETS convention for known tasks).
    """

    in_mean: torch.Tensor
    in_std: torch.Tensor
    out_mean: torch.Tensor
    out_std: torch.Tensor
    log_pos_weight: torch.Tensor
    terminations_seen: torch.Tensor

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        *,
        discrete: bool = False,
        config: EnsembleConfig | None = None,
        reward_fn: RewardFn | None = None,
        termination_fn: TerminationFn | None = None,
    ) -> None:
        super().__init__()
        # a recipe section may extend EnsembleConfig with its own keys: keep only ours
        config = config or EnsembleConfig()
        self.config = EnsembleConfig.model_validate(
            config.model_dump(include=set(EnsembleConfig.model_fields))
        )
        c = self.config
        self.obs_dim, self.action_dim, self.discrete = obs_dim, action_dim, discrete
        self._members, self.sampling = c.ensemble_size, c.sampling
        self.reward_fn, self.termination_fn = reward_fn, termination_fn
        self.learn_reward = reward_fn is None
        self.learn_termination = termination_fn is None
        self.lr, self.weight_decay = c.lr, c.weight_decay
        self.in_dim = obs_dim + action_dim
        self.out_dim = obs_dim + int(self.learn_reward)  # Gaussian part: delta (+ reward)
        sizes = [self.in_dim] + [c.hidden] * c.layers
        self.body = nn.ModuleList(
            BatchedLinear(c.ensemble_size, a, b) for a, b in itertools.pairwise(sizes)
        )
        self.head = BatchedLinear(c.ensemble_size, c.hidden, 2 * self.out_dim)
        self.termination_net: nn.ModuleList | None = None
        if self.learn_termination:  # classifier on (obs, action, next_obs), see module docstring
            term_sizes = [self.in_dim + obs_dim, c.hidden, c.hidden, 1]
            self.termination_net = nn.ModuleList(
                BatchedLinear(c.ensemble_size, a, b) for a, b in itertools.pairwise(term_sizes)
            )
        self.max_logvar = nn.Parameter(torch.full((self.out_dim,), 0.5))
        self.min_logvar = nn.Parameter(torch.full((self.out_dim,), -10.0))
        for name, size in (("in", self.in_dim), ("out", self.out_dim)):
            self.register_buffer(f"{name}_mean", torch.zeros(size))
            self.register_buffer(f"{name}_std", torch.ones(size))
        self.register_buffer("log_pos_weight", torch.zeros(()))
        self.register_buffer("terminations_seen", torch.zeros(()))
        self.optimizer: torch.optim.Optimizer | None = None

    @property
    def ensemble_size(self) -> int:
        return self._members

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def from_spaces(
        cls,
        observation_space: Any,
        action_space: Any,
        *,
        config: EnsembleConfig | None = None,
        reward_fn: RewardFn | None = None,
        termination_fn: TerminationFn | None = None,
    ) -> "GaussianEnsemble":
        """Build for Gymnasium spaces (Box observations; Box or Discrete actions)."""
        import numpy as np
        from gymnasium import spaces

        if not isinstance(observation_space, spaces.Box):
            raise TypeError("GaussianEnsemble needs a Box observation space (vector states)")
        obs_dim = int(np.prod(observation_space.shape))
        if isinstance(action_space, spaces.Discrete):
            action_dim, discrete = int(action_space.n), True
        elif isinstance(action_space, spaces.Box):
            action_dim, discrete = int(np.prod(action_space.shape)), False
        else:
            raise TypeError(
                f"unsupported action space {type(action_space).__name__}: use Box or Discrete"
            )
        return cls(
            obs_dim, action_dim, discrete=discrete, config=config, reward_fn=reward_fn,
            termination_fn=termination_fn,
        )

    @property
    def device(self) -> torch.device:
        return self.max_logvar.device

    # ------------------------------------------------------------------ persistence
    def init_args(self) -> dict[str, Any]:
        """Architecture as JSON; gmrl's own reward/termination functions are named, others not."""
        return {
            "obs_dim": self.obs_dim,
            "action_dim": self.action_dim,
            "discrete": self.discrete,
            "config": self.config.model_dump(mode="json"),
            "reward_fn": _function_path(self.reward_fn),
            "termination_fn": _function_path(self.termination_fn),
            "custom_reward": self.reward_fn is not None and _function_path(self.reward_fn) is None,
            "custom_termination": (
                self.termination_fn is not None and _function_path(self.termination_fn) is None
            ),
        }

    @classmethod
    def build(cls, init: dict[str, Any], **extra: Any) -> "GaussianEnsemble":
        """Rebuild from `init_args`; a custom function must be passed again (`reward_fn=...`)."""
        from gmrl.core.errors import CheckpointError

        fns: dict[str, Any] = {}
        for what in ("reward", "termination"):
            key = f"{what}_fn"
            if key in extra:
                fns[key] = extra.pop(key)
            elif init.get(key):
                fns[key] = _resolve_function(str(init[key]))
            elif init.get(f"custom_{what}"):
                raise CheckpointError(
                    f"this ensemble was saved with a {what} function of your own: pass "
                    f"{key}=... to load()"
                )
            else:
                fns[key] = None
        if extra:
            raise TypeError(f"unexpected arguments for GaussianEnsemble: {', '.join(extra)}")
        return cls(
            int(init["obs_dim"]), int(init["action_dim"]), discrete=bool(init["discrete"]),
            config=EnsembleConfig.model_validate(init["config"]), **fns,
        )

    def optimizer_states(self) -> dict[str, Any]:
        return {} if self.optimizer is None else {"adamw": self.optimizer.state_dict()}

    def load_optimizer_states(self, states: dict[str, Any]) -> None:
        if "adamw" in states:
            self._make_optimizer().load_state_dict(states["adamw"])
        else:
            self.optimizer = None

    def _make_optimizer(self) -> torch.optim.Optimizer:
        if self.optimizer is None:
            self.optimizer = torch.optim.AdamW(
                self.parameters(), lr=self.lr, weight_decay=self.weight_decay
            )
        return self.optimizer

    # ------------------------------------------------------------------ forward
    def encode_action(self, action: torch.Tensor) -> torch.Tensor:
        """Discrete indices -> one-hot floats; continuous actions flattened to (B, action_dim)."""
        if self.discrete:
            return F.one_hot(action.long().reshape(-1), self.action_dim).float()
        return action.float().reshape(action.shape[0], self.action_dim)

    def _inputs(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        x = torch.cat([obs.float().reshape(obs.shape[0], -1), self.encode_action(action)], dim=-1)
        return (x - self.in_mean) / self.in_std

    def forward_members(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised inputs `(E, B, in)` -> normalised (mean, logvar) `(E, B, out)`.

        (The termination logit comes from `termination_logits`: it needs the next state.)
        """
        h = x
        for layer in self.body:
            h = F.silu(layer(h))
        out = self.head(h)
        mean, raw = out[..., : self.out_dim], out[..., self.out_dim : 2 * self.out_dim]
        logvar = self.max_logvar - F.softplus(self.max_logvar - raw)
        logvar = self.min_logvar + F.softplus(logvar - self.min_logvar)
        return mean, logvar

    def termination_logits(self, x: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        """Class-weighted termination logits `(E, B)` from normalised inputs `(E, B, in)` and
        next states `(E, B, obs_dim)` in original units (normalised like the observations)."""
        assert self.termination_net is not None
        d = self.obs_dim
        nxt = (next_obs.float() - self.in_mean[:d]) / self.in_std[:d]
        h = torch.cat([x, nxt], dim=-1)
        for i, layer in enumerate(self.termination_net):
            h = layer(h)
            if i < len(self.termination_net) - 1:
                h = F.silu(h)
        return h.squeeze(-1)

    def predict_members(
        self,
        obs: torch.Tensor,
        action: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        sample: bool = True,
        done_probability: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every member's (next_obs, reward, terminated) for each row: shapes `(E, B, ...)`.

        Rows may also come pre-split per member: `obs (E, B, d)`, `action (E, B, ...)` runs member
        e on its own rows only (how planners propagate one particle per member, PETS's TS-inf).
        `done_probability=True` returns the calibrated termination probability (floats; 0/1
        for a known termination function) instead of booleans.
        """
        per_member = obs.dim() == 3 and obs.shape[0] == self.ensemble_size
        if per_member:
            e, b = obs.shape[:2]
            flat_obs = obs.reshape(e * b, -1)
            flat_act = action.reshape(e * b, *action.shape[2:])
            x = self._inputs(flat_obs, flat_act).reshape(e, b, -1)
        else:
            flat_obs, flat_act = obs, action
            x = self._inputs(obs, action).unsqueeze(0).expand(self.ensemble_size, -1, -1)
        mean, logvar = self.forward_members(x)
        if sample:
            noise = _randn(mean.shape, generator, mean.device)
            mean = mean + noise * torch.exp(0.5 * logvar)
        out = mean * self.out_std + self.out_mean
        obs_e = (
            flat_obs.float().reshape(x.shape[0], x.shape[1], -1)
            if per_member
            else (obs.float().reshape(1, obs.shape[0], -1).expand(self.ensemble_size, -1, -1))
        )
        next_obs = obs_e + out[..., : self.obs_dim]
        act_e = (
            flat_act.reshape(x.shape[0], x.shape[1], *flat_act.shape[1:])
            if per_member
            else (flat_act.unsqueeze(0).expand(self.ensemble_size, *flat_act.shape))
        )
        e, b = next_obs.shape[:2]
        flat = (
            obs_e.reshape(e * b, -1),
            act_e.reshape(e * b, *act_e.shape[2:]),
            next_obs.reshape(e * b, -1),
        )
        if self.learn_reward:
            reward = out[..., self.obs_dim]
        else:
            reward = self.reward_fn(*flat).reshape(e, b).float()  # type: ignore[misc]
        if self.learn_termination:
            probability = self.termination_probability(self.termination_logits(x, next_obs))
            terminated = probability if done_probability else probability > 0.5
        else:
            terminated = self.termination_fn(*flat).reshape(e, b).bool()  # type: ignore[misc]
            if done_probability:
                terminated = terminated.float()
        return next_obs, reward, terminated

    def termination_probability(self, logit: torch.Tensor) -> torch.Tensor:
        """Calibrated P(terminated): the class-weighted logit less log(pos_weight); exactly 0
        while no termination has been seen in the data (nothing to generalise from)."""
        seen = (self.terminations_seen > 0).to(logit.dtype)  # no host sync in the planning loop
        return torch.sigmoid(logit - self.log_pos_weight) * seen

    @torch.no_grad()
    def disagreement(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Epistemic uncertainty per row: the std over members of their mean predictions, in
        normalised target units, averaged over targets (0 for a single member).

        The exploration signal of the planners (PETS-style disagreement, as in Plan2Explore):
        high where the members, fitted to different bootstraps, have not seen such data.
        """
        if self.ensemble_size < 2:
            return torch.zeros(obs.shape[0], device=self.device)
        return self._member_means(obs, action).std(0).mean(-1)

    def _member_means(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Every member's mean prediction for every row, normalised: `(E, B, out)`."""
        x = self._inputs(obs.to(self.device), action.to(self.device))
        return self.forward_members(x.unsqueeze(0).expand(self.ensemble_size, -1, -1))[0]

    @torch.no_grad()
    def step(
        self,
        obs: torch.Tensor,
        action: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        sampling: Sampling | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample (next_obs, reward, terminated) for states `(B, d)` and actions `(B, ...)`."""
        obs = obs.to(self.device)
        action = action.to(self.device)
        mode = sampling or self.sampling
        next_obs, reward, terminated = self.predict_members(
            obs, action, generator=generator, sample=mode == "ts1"
        )
        if mode == "mean":
            return next_obs.mean(0), reward.mean(0), terminated.float().mean(0) > 0.5
        pick = _randint(self.ensemble_size, obs.shape[0], generator, self.device)
        rows = torch.arange(obs.shape[0], device=self.device)
        return next_obs[pick, rows], reward[pick, rows], terminated[pick, rows]

    @torch.no_grad()
    def uncertainty(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Member disagreement: the largest per-dimension std of the members' mean predictions."""
        if self.ensemble_size < 2:
            return torch.zeros(obs.shape[0], device=self.device)
        return (self._member_means(obs, action) * self.out_std).std(0).amax(-1)

    # ------------------------------------------------------------------ training
    def _targets(self, batch: TransitionBatch) -> torch.Tensor:
        delta = (batch["next_obs"].float() - batch["obs"].float()).reshape(len(batch["obs"]), -1)
        if self.learn_reward:
            return torch.cat([delta, batch["reward"].float().reshape(-1, 1)], dim=-1)
        return delta

    def _set_normalisers(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.in_mean.copy_(x.mean(0))
        self.in_std.copy_(x.std(0).clamp_min(1e-6) if len(x) > 1 else torch.ones_like(x[0]))
        if self.discrete:  # one-hot columns are already well scaled
            self.in_mean[self.obs_dim :] = 0.0
            self.in_std[self.obs_dim :] = 1.0
        self.out_mean.copy_(y.mean(0))
        self.out_std.copy_(y.std(0).clamp_min(1e-6) if len(y) > 1 else torch.ones_like(y[0]))

    def _loss(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        done: torch.Tensor,
        pos_weight: torch.Tensor | None = None,
        next_obs: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Gaussian NLL per member (summed over members) + termination BCE + logvar-bound penalty.

        Terminations are rare (one per episode), so the BCE weighs positives by `pos_weight`
        (negatives / positives in the data); otherwise "never terminates" is a good-looking optimum.
        """
        mean, logvar = self.forward_members(x)
        nll = (((mean - y) ** 2) * torch.exp(-logvar) + logvar).mean(dim=(1, 2)).sum()
        loss = nll + 0.01 * (self.max_logvar.sum() - self.min_logvar.sum())
        if self.learn_termination and next_obs is not None:
            logit = self.termination_logits(x, next_obs)
            bce = F.binary_cross_entropy_with_logits(
                logit, done, reduction="none", pos_weight=pos_weight
            )
            loss = loss + bce.mean(dim=1).sum()
        return loss

    @torch.no_grad()
    def _holdout_error(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-member mean squared error of the normalised mean prediction on held-out rows."""
        mean, _ = self.forward_members(x.unsqueeze(0).expand(self.ensemble_size, -1, -1))
        return ((mean - y) ** 2).mean(dim=(1, 2))

    @torch.no_grad()
    def validation_mse(self, transitions: TransitionBatch) -> float:
        """MSE of the ensemble-mean next-state prediction on `transitions`, in original units."""
        next_obs, _, _ = self.predict_members(
            transitions["obs"].to(self.device), transitions["action"].to(self.device), sample=False
        )
        target = transitions["next_obs"].float().to(self.device).reshape(next_obs.shape[1], -1)
        return float(((next_obs.mean(0) - target) ** 2).mean())

    def fit(
        self,
        transitions: TransitionBatch,
        *,
        generator: torch.Generator | None = None,
        max_epochs: int | None = None,
    ) -> dict[str, float]:
        """(Continue to) fit all members on `transitions`; returns training metrics.

        The budget is the config's (`max_epochs`, `patience`, `batch_size`, holdout split);
        `max_epochs` may be overridden for one call.
        Metrics: `holdout_mse` (normalised targets, best epoch, mean over members),
        `val_next_obs_mse` (ensemble mean, original units, on the held-out split), `epochs`.
        """
        c = self.config
        max_epochs = c.max_epochs if max_epochs is None else max_epochs
        batch_size, patience = c.batch_size, c.patience
        holdout_ratio, max_holdout = c.holdout_ratio, c.max_holdout
        min_updates_per_epoch = c.min_updates_per_epoch
        obs = transitions["obs"].float().to(self.device)
        n = obs.shape[0]
        if n < 2:
            raise ValueError("fit needs at least 2 transitions")
        action = transitions["action"].to(self.device)
        x_raw = torch.cat([obs.reshape(n, -1), self.encode_action(action)], dim=-1)
        y_raw = self._targets({k: v.to(self.device) for k, v in transitions.items()})
        done = transitions.get("terminated", torch.zeros(n)).float().to(self.device).reshape(-1)
        next_obs = transitions["next_obs"].float().to(self.device).reshape(n, -1)
        perm = torch.randperm(n, generator=generator).to(self.device)
        n_hold = min(max_holdout, max(1, int(n * holdout_ratio))) if n >= 5 else 0
        hold, train = perm[:n_hold], perm[n_hold:]
        with torch.no_grad():
            self._set_normalisers(x_raw[train], y_raw[train])
        x = (x_raw - self.in_mean) / self.in_std
        y = (y_raw - self.out_mean) / self.out_std
        optimizer = self._make_optimizer()
        n_train = train.numel()
        boot = train[
            torch.randint(n_train, (self.ensemble_size, n_train), generator=generator).to(
                self.device
            )
        ]
        hx, hy = (x[hold], y[hold]) if n_hold else (x[train], y[train])
        positives = done[train].sum()
        pos_weight = ((n_train - positives) / positives).clamp(max=100.0) if positives > 0 else None
        with torch.no_grad():
            self.log_pos_weight.fill_(0.0 if pos_weight is None else float(pos_weight.log()))
            self.terminations_seen.fill_(float(done.sum()))
        best = self._holdout_error(hx, hy)
        best_state = copy.deepcopy(self.state_dict())
        stale, epochs, last_loss = 0, 0, float("nan")
        for epoch in range(max_epochs):
            epochs = epoch + 1
            order = boot[:, torch.randperm(n_train, generator=generator).to(self.device)]
            starts = list(range(0, n_train, batch_size))
            while len(starts) < min_updates_per_epoch:  # tiny data sets: several passes per check
                starts += starts
            for start in starts:
                idx = order[:, start : start + batch_size]
                loss = self._loss(x[idx], y[idx], done[idx], pos_weight, next_obs[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                last_loss = float(loss.detach())
            err = self._holdout_error(hx, hy)
            improved = (best - err) / best.clamp_min(1e-12) > 0.01
            if bool(improved.any()):
                stale = 0
                best = torch.where(improved, err, best)
                current = self.state_dict()
                for key, value in current.items():  # keep each improved member's weights
                    if (
                        value.dim() >= 1
                        and value.shape[0] == self.ensemble_size
                        and key not in ("in_mean", "in_std", "out_mean", "out_std")
                        and key.startswith(("body", "head", "termination_net"))
                    ):
                        best_state[key][improved] = value[improved].detach().clone()
                    elif not key.startswith(("body", "head", "termination_net")):
                        best_state[key] = value.detach().clone()
            else:
                stale += 1
                if stale >= patience:
                    break
        self.load_state_dict(best_state)
        held = {k: v[hold.cpu()] for k, v in transitions.items()} if n_hold else transitions
        return {
            "holdout_mse": float(best.mean()),
            "val_next_obs_mse": self.validation_mse(held),
            "train_loss": last_loss,
            "epochs": float(epochs),
            **(self.termination_report(transitions) if self.learn_termination else {}),
        }

    @torch.no_grad()
    def termination_report(self, transitions: TransitionBatch) -> dict[str, float]:
        """How the termination classifier does on `transitions` (ensemble-mean probability):
        hits and false alarms at 0.5, and the mean probability on real terminal / other rows."""
        _, _, probability = self.predict_members(
            transitions["obs"].to(self.device), transitions["action"].to(self.device),
            sample=False, done_probability=True,
        )
        p = probability.float().mean(0)
        done = transitions["terminated"].to(self.device).reshape(-1).bool()
        said = p > 0.5
        return {
            "termination_positives": float(done.sum()),
            "termination_hits": float((said & done).sum()),
            "termination_false_alarms": float((said & ~done).sum()),
            "termination_p_terminal": float(p[done].mean()) if done.any() else float("nan"),
            "termination_p_other": float(p[~done].mean()) if (~done).any() else float("nan"),
        }
