"""The latent world model: encoder, dynamics, reward, termination, Q-ensemble and policy prior.

One module holds every network, as TD-MPC2's `WorldModel` does, so a single optimiser step trains
them jointly. Actions enter the networks as vectors in [-1, 1] (Box, rescaled) or one-hot
(Discrete). The policy prior is a tanh-Gaussian for Box actions and a categorical for Discrete.
"""

import copy
import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

from gmrl.worldmodel.tdmpc.config import TDMPCConfig
from gmrl.worldmodel.tdmpc.layers import SimNorm, TwoHot, mlp, symlog

LOG_STD_MIN, LOG_STD_MAX = -10.0, 2.0
# largest |standardised state| of state dynamics: an imagined rollout that extrapolates far off
# the data stops there instead of overflowing
STATE_BOUND = 50.0


def _zero_last_linear(net: nn.Sequential) -> None:
    """Zero the last linear layer of `net`: its output starts at 0."""
    last = [layer for layer in net if isinstance(layer, nn.Linear)][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()


class QEnsemble(nn.Module):
    """`count` MLPs (the Q-functions; also the novelty heads) evaluated in one batched pass
    (stacked weights, `torch.baddbmm`). `zero_last`: every output starts at 0 (Q, as in
    TD-MPC2); off, the members start apart, which is what makes their disagreement a signal.
    `layer_norm` off: hidden activations grow with the input, so members extrapolate apart
    off the data instead of being normalised back together (the novelty heads)."""

    def __init__(self, count: int, sizes: list[int], dropout: float,
                 zero_last: bool = True, layer_norm: bool = True) -> None:
        super().__init__()
        self.count, self.dropout, self.layer_norm = count, dropout, layer_norm
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.norm_weights = nn.ParameterList()
        self.norm_biases = nn.ParameterList()
        for fan_in, fan_out in itertools.pairwise(sizes):
            bound = 1 / math.sqrt(fan_in)
            self.weights.append(nn.Parameter(torch.empty(count, fan_in, fan_out).uniform_(
                -bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(count, 1, fan_out).uniform_(
                -bound, bound)))
        for width in sizes[1:-1] if layer_norm else []:
            self.norm_weights.append(nn.Parameter(torch.ones(count, 1, width)))
            self.norm_biases.append(nn.Parameter(torch.zeros(count, 1, width)))
        if zero_last:
            with torch.no_grad():  # zero last layer: every value starts at 0, as in TD-MPC2
                self.weights[-1].zero_()
                self.biases[-1].zero_()

    def forward(self, x: torch.Tensor, heads: torch.Tensor | None = None) -> torch.Tensor:
        """x (..., D) -> logits (count, ..., bins), or (len(heads), ..., bins) for some heads."""
        lead = x.shape[:-1]
        count = self.count if heads is None else int(heads.shape[0])
        h = x.reshape(1, -1, x.shape[-1]).expand(count, -1, -1)
        last = len(self.weights) - 1
        for index, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            if heads is not None:
                weight, bias = weight[heads], bias[heads]
            h = torch.baddbmm(bias, h, weight)
            if index == last:
                break
            if self.layer_norm:
                scale, shift = self.norm_weights[index], self.norm_biases[index]
                if heads is not None:
                    scale, shift = scale[heads], shift[heads]
                h = F.layer_norm(h, h.shape[-1:]) * scale + shift
            h = F.silu(h)
            if index == 0 and self.dropout > 0:
                h = F.dropout(h, self.dropout, self.training)
        return h.reshape(count, *lead, h.shape[-1])


class LatentModel(nn.Module):
    """Every network of the agent, with the two-hot codec of rewards and values.

    Args:
        obs_dim: size of the (flat) observation.
        action_dim: Box action size, or the number of Discrete actions.
        discrete: whether actions are Discrete (one-hot inputs, categorical policy).
        config: sizes and codec settings (`TDMPCConfig`).
    """

    termination_log_ratio: torch.Tensor
    obs_mean: torch.Tensor
    obs_std: torch.Tensor
    change_std: torch.Tensor  # only with novelty heads (explore > 0)

    def __init__(self, obs_dim: int, action_dim: int, discrete: bool, config: TDMPCConfig) -> None:
        super().__init__()
        self.state_space = config.dynamics == "state"
        if not self.state_space and config.latent_dim % config.simnorm_dim:
            raise ValueError(
                f"latent_dim ({config.latent_dim}) must be a multiple of simnorm_dim "
                f"({config.simnorm_dim})"
            )
        self.obs_dim, self.action_dim, self.discrete = obs_dim, action_dim, discrete
        hidden = config.hidden
        latent = obs_dim if self.state_space else config.latent_dim
        self.latent_dim = latent
        self.codec = TwoHot(config.bins, config.vmin, config.vmax)
        # state dynamics: no encoder (the latent is the standardised observation) and a residual
        # network that predicts the change of state, starting as "nothing changes"
        self.encoder = (nn.Sequential() if self.state_space else
                        mlp([obs_dim] + [hidden] * config.encoder_layers + [latent],
                            SimNorm(config.simnorm_dim)))
        self.dynamics = mlp([latent + action_dim, hidden, hidden, latent],
                            None if self.state_space else SimNorm(config.simnorm_dim))
        if self.state_space:
            _zero_last_linear(self.dynamics)
        self.reward = mlp([latent + action_dim, hidden, hidden, config.bins])
        self.termination = mlp([latent, hidden, 1])
        self.qs = QEnsemble(config.num_q, [latent + action_dim, hidden, hidden, config.bins],
                            config.dropout)
        self.target_qs = copy.deepcopy(self.qs).requires_grad_(False)
        self.policy = mlp([latent, hidden, hidden, action_dim * (1 if discrete else 2)])
        # predicts the standardised next observation from a latent: grounds the latent in the
        # state, so small effects of an action are not lost while rewards and values are poor
        # (state dynamics need none: their latent is the standardised observation)
        self.decoder = None if self.state_space else mlp([latent, hidden, obs_dim])
        self.register_buffer("obs_mean", torch.zeros(obs_dim))
        self.register_buffer("obs_std", torch.ones(obs_dim))
        _zero_last_linear(self.reward)  # every reward starts at 0, as in TD-MPC2
        # log(negatives / positives) of the termination labels: the class-balancing weight used
        # in training, subtracted from the logit to read a calibrated probability
        self.register_buffer("termination_log_ratio", torch.zeros(()))
        # novelty heads (explore > 0): `explore_heads` one-step predictors of the latent's change,
        # fitted to real transitions only; where they disagree the agent has not been. Built
        # last, so every other network's initial weights are the same with or without them
        # (one hidden layer: they only have to tell seen from unseen, and they run at every
        # imagined step of every plan while training)
        self.novelty = (QEnsemble(config.explore_heads, [latent + action_dim, hidden, latent],
                                  0.0, zero_last=False, layer_norm=False)
                        if config.explore > 0 else None)
        if self.novelty is not None:  # running spread of the real changes: the heads' unit
            self.register_buffer("change_std", torch.ones(latent))

    # ------------------------------------------------------------------ parts
    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        if self.state_space:
            return self.standardise(obs).clamp(-STATE_BOUND, STATE_BOUND)
        return self.encoder(symlog(obs))

    def standardise(self, obs: torch.Tensor) -> torch.Tensor:
        return (obs - self.obs_mean) / self.obs_std

    def next(self, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        out = self.dynamics(torch.cat([z, action], -1))
        if self.state_space:  # the change of the standardised state, kept in a sane range
            return (z + out).clamp(-STATE_BOUND, STATE_BOUND)
        return out

    def reward_logits(self, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.reward(torch.cat([z, action], -1))

    def termination_logit(self, next_z: torch.Tensor) -> torch.Tensor:
        return self.termination(next_z).squeeze(-1)

    def termination_prob(self, next_z: torch.Tensor) -> torch.Tensor:
        """Calibrated probability that the step into `next_z` ended the episode."""
        return torch.sigmoid(self.termination_logit(next_z) - self.termination_log_ratio)

    def disagreement(self, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """The novelty heads' disagreement on the latent's change: their std in units of the
        real changes' spread, averaged over latent dimensions (v1's unit: an unseen state
        scores about 1 whatever the task's step size); zeros without heads."""
        if self.novelty is None:
            return torch.zeros(z.shape[:-1], device=z.device)
        return self.novelty(torch.cat([z, action], -1)).std(0).mean(-1)

    def novelty_loss(self, z: torch.Tensor, action: torch.Tensor, next_z: torch.Tensor,
                     weights: torch.Tensor, rate: float = 0.01) -> torch.Tensor:
        """Every head's squared error on the real changes `next_z - z` in units of their
        running spread (updated here at `rate`; inputs detached), weighted like the other
        losses; 0 without heads."""
        if self.novelty is None:
            return torch.zeros((), device=z.device)
        change = (next_z - z).detach()
        with torch.no_grad():
            rows = weights.reshape(-1) > 0
            spread = change.reshape(-1, change.shape[-1])[rows].pow(2).mean(0).sqrt()
            self.change_std.lerp_(spread.clamp_min(1e-6), rate)
        predicted = self.novelty(torch.cat([z.detach(), action], -1))  # (K, ..., L)
        error = (predicted - change / self.change_std).pow(2).mean(-1).mean(0)
        return (error * weights).sum()

    def q_logits(self, z: torch.Tensor, action: torch.Tensor, target: bool = False,
                 heads: torch.Tensor | None = None) -> torch.Tensor:
        ensemble = self.target_qs if target else self.qs
        return ensemble(torch.cat([z, action], -1), heads)

    def q_value(
        self, z: torch.Tensor, action: torch.Tensor, *, target: bool = False, reduce: str = "avg",
        generator: torch.Generator | None = None, heads: int = 2,
    ) -> torch.Tensor:
        """Q of `heads` randomly chosen heads, averaged (`avg`) or their minimum (`min`)."""
        pick = torch.randperm(self.qs.count, generator=generator, device=z.device)[:heads]
        values = self.codec.decode(self.q_logits(z, action, target, pick))
        return values.min(0).values if reduce == "min" else values.mean(0)

    # ------------------------------------------------------------------ policy prior
    def one_hot(self, index: torch.Tensor) -> torch.Tensor:
        return F.one_hot(index.long(), self.action_dim).to(torch.get_default_dtype())

    def policy_sample(
        self, z: torch.Tensor, *, deterministic: bool = False,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(action vector, log-probability) from the prior; Discrete actions come one-hot."""
        out = self.policy(z)
        if self.discrete:
            log_probs = F.log_softmax(out, -1)
            if deterministic:
                index = log_probs.argmax(-1)
            else:
                flat = log_probs.exp().reshape(-1, self.action_dim)
                index = torch.multinomial(flat, 1, generator=generator).reshape(out.shape[:-1])
            return self.one_hot(index), log_probs.gather(-1, index.unsqueeze(-1)).squeeze(-1)
        mean, log_std = _mean_log_std(out)
        if deterministic:
            return torch.tanh(mean), torch.zeros(mean.shape[:-1], device=z.device)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device)
        pre_tanh = mean + noise * log_std.exp()
        log_prob = (-0.5 * noise.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        action = torch.tanh(pre_tanh)
        log_prob = log_prob - torch.log(F.relu(1 - action.pow(2)) + 1e-6).sum(-1)
        return action, log_prob

    def policy_log_prob(self, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """log pi(action | z) of stored action vectors (one-hot for Discrete; for Box the
        Gaussian's density at the action's pre-tanh value, clipped inside (-1, 1): the tanh's
        Jacobian does not depend on the prior's weights, so it is left out)."""
        out = self.policy(z)
        if self.discrete:
            return (F.log_softmax(out, -1) * action).sum(-1)
        mean, log_std = _mean_log_std(out)
        pre_tanh = torch.atanh(action.clamp(-0.999, 0.999))
        return (-0.5 * ((pre_tanh - mean) / log_std.exp()).pow(2) - log_std
                - 0.5 * math.log(2 * math.pi)).sum(-1)

    def value(
        self, z: torch.Tensor, *, target: bool = False, reduce: str = "avg",
        generator: torch.Generator | None = None, heads: int = 2,
    ) -> torch.Tensor:
        """V(z) = E_{a ~ prior} Q(z, a): exact over Discrete actions, one sample for Box."""
        if not self.discrete:
            action, _ = self.policy_sample(z, generator=generator)
            return self.q_value(z, action, target=target, reduce=reduce, generator=generator,
                                heads=heads)
        probs = F.softmax(self.policy(z), -1)  # (..., n)
        eye = torch.eye(self.action_dim, device=z.device)
        every = z.unsqueeze(-2).expand(*z.shape[:-1], self.action_dim, z.shape[-1])
        q = self.q_value(every, eye.expand(*z.shape[:-1], -1, -1), target=target, reduce=reduce,
                         generator=generator, heads=heads)
        return (probs * q).sum(-1)

    @torch.no_grad()
    def update_targets(self, tau: float) -> None:
        torch._foreach_lerp_(list(self.target_qs.parameters()), list(self.qs.parameters()), tau)


def _mean_log_std(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The Box prior's pre-tanh mean and its log std squashed into [LOG_STD_MIN, LOG_STD_MAX]."""
    mean, log_std = out.chunk(2, -1)
    return mean, LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (torch.tanh(log_std) + 1)
