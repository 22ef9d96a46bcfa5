"""RL Tuner's off-policy family: Q-, Psi- and G-learning with the Note-RNN as prior.

Jaques et al. 2017 ("Sequence Tutor", RL Tuner) treat composing as an MDP whose state is the
melody so far and whose action is the next event. A Q-network and a target network start as
copies of the trained Note-RNN (their logits are the initial action values); a frozen copy, the
"reward RNN", supplies the prior p(a|s). With c the paper's reward scaler (magenta's
`reward_scaler` is 1/c) and r_MT the music-theory reward of the action:

- **Q-learning**: r = log p(a|s) + r_MT/c, target y = r + gamma * max_a' Q'(s', a');
- **Psi-learning** (Rawlik et al.): same reward, soft target
  y = r + gamma * log sum_a' exp Q'(s', a') (the KL-regularised optimum is softmax(Psi));
- **G-learning** (Fox et al.): r = r_MT/c only, the prior enters the target:
  y = r + gamma * log sum_a' p(a'|s') exp G'(s', a'), and the policy is softmax(log p + G).

Here everything is batched in torch: a rollout plays `compositions` melodies in parallel (one loop
over the 32 steps), the replay buffer stores whole compositions, and an update teacher-forces a
minibatch of them through the Q-, target and prior networks at once, so every transition of every
composition gets its TD target in one pass (states are recomputed by the current networks, as in
recurrent replay, instead of storing stale LSTM states as magenta does). The last step is terminal
(no bootstrap). The target network follows Q by Polyak averaging (rate 0.01, as magenta). Behaviour
is epsilon-greedy on Q (annealed) for Q-learning and Boltzmann sampling of the policy for Psi/G;
evaluation samples every algorithm's softmax policy (greedy decoding from the start token would
give one composition).

```python
tuner = OffPolicyTuner(note_rnn, MusicTheoryReward(MusicRewardConfig()), RLTunerConfig(algo="psi"),
                       generator=torch_generator(seed, "rl_tuner"))
for _ in range(300):
    metrics = tuner.step()               # one rollout + `updates_per_rollout` TD updates
samples = tuner.sample(10_000, generator=g)
```
"""

import copy
from collections.abc import Callable
from typing import Any, Literal

import torch
from pydantic import Field
from torch import nn
from torch.nn import functional as F

from gmrl.core.config import NonNegativeFloat, PositiveFloat, Probability, StrictModel
from gmrl.generative.autoregressive import AutoregressiveModel
from gmrl.music.policy import MelodyPolicy
from gmrl.sequence.diversity import unique_fraction

StepReward = Callable[[torch.Tensor], torch.Tensor]  # events (B, T) -> reward of each action (B, T)
Algo = Literal["q", "psi", "g"]


class RLTunerConfig(StrictModel):
    """RL Tuner's off-policy tuning (defaults follow magenta's `default_dqn_hparams`)."""

    algo: Algo = Field("q", description="q (Q-learning), psi (Psi-learning) or g (G-learning)")
    c: PositiveFloat = Field(
        10.0,
        description="reward scaler c: r = log p(a|s) + r_MT / c (magenta: reward_scaler = 1/c = 0.1"
        " in rl_tuner_train.py)",
    )
    discount: Probability = Field(0.95, description="gamma")
    lr: PositiveFloat = Field(1e-3, description="Adam learning rate of the Q-network")
    grad_clip: NonNegativeFloat = Field(5.0, description="max gradient norm (0 = none)")
    compositions: int = Field(64, ge=1, description="melodies played in parallel per rollout")
    replay_size: int = Field(4096, ge=1, description="compositions kept in the replay buffer")
    minibatch: int = Field(32, ge=1, description="compositions (x 32 transitions) per update")
    updates_per_rollout: int = Field(4, ge=1, description="TD updates after each rollout")
    target_update_rate: Probability = Field(0.01, description="Polyak rate of the target net")
    exploration: Literal["auto", "egreedy", "boltzmann"] = Field(
        "auto", description="behaviour policy; auto = egreedy for q, boltzmann for psi and g"
    )
    epsilon_start: Probability = Field(0.5, description="egreedy: random-action probability")
    epsilon_end: Probability = Field(0.1, description="egreedy: value after annealing")
    epsilon_rollouts: int = Field(100, ge=0, description="rollouts over which epsilon anneals")

    def behaviour(self) -> str:
        """The exploration scheme in use (resolves `auto`)."""
        if self.exploration != "auto":
            return self.exploration
        return "egreedy" if self.algo == "q" else "boltzmann"


def _frozen(model: AutoregressiveModel) -> AutoregressiveModel:
    clone = copy.deepcopy(model).eval()
    clone.requires_grad_(False)
    return clone


class OffPolicyTuner:
    """Q/Psi/G-learning of a Note-RNN-initialised Q-network toward a per-step music reward.

    Args:
        prior: the trained Note-RNN (not modified: the Q-, target and reward networks are copies).
        reward: `events (B, T) -> (B, T)` music-theory reward of each step's action given its
            prefix (`gmrl.music.reward.MusicTheoryReward`).
        config: the algorithm and its hyper-parameters.
        generator: the CPU generator every random draw (rollouts, exploration, replay) uses.
    """

    def __init__(
        self,
        prior: AutoregressiveModel,
        reward: StepReward,
        config: RLTunerConfig | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        self.config = config or RLTunerConfig()
        self.reward = reward
        self.prior = _frozen(prior)
        self.q = copy.deepcopy(prior).eval()  # eval: no dropout in values
        self.q.requires_grad_(True)
        self.target = _frozen(prior)
        self.generator = generator if generator is not None else torch.Generator()
        self.optimizer = torch.optim.Adam(self.q.parameters(), lr=self.config.lr)
        self.device = prior.device
        self.steps = prior.seq_len
        self.actions = prior.vocab_size
        self.replay = torch.zeros(self.config.replay_size, self.steps, dtype=torch.long)
        self.replay_reward = torch.zeros(self.config.replay_size, self.steps)  # r_MT, cached
        self.filled = 0
        self.position = 0
        self.rollouts = 0
        self.updates = 0

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs (the prior is the Note-RNN, saved by the caller)."""
        return {
            "q": dict(self.q.state_dict()),
            "target": dict(self.target.state_dict()),
            "optimizer": self.optimizer.state_dict(),
            "replay": self.replay.clone(),
            "replay_reward": self.replay_reward.clone(),
            "counters": [self.filled, self.position, self.rollouts, self.updates],
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned."""
        self.q.load_state_dict(state["q"])
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.replay.copy_(state["replay"])
        self.replay_reward.copy_(state["replay_reward"])
        self.filled, self.position, self.rollouts, self.updates = (
            int(v) for v in state["counters"]
        )
        self.generator.set_state(state["generator"])

    # ------------------------------------------------------------------ policy
    def epsilon(self) -> float:
        """The current egreedy random-action probability (linear annealing over rollouts)."""
        cfg = self.config
        if cfg.epsilon_rollouts == 0:
            return cfg.epsilon_end
        frac = min(1.0, self.rollouts / cfg.epsilon_rollouts)
        return cfg.epsilon_start + frac * (cfg.epsilon_end - cfg.epsilon_start)

    def policy(self) -> MelodyPolicy:
        """The current learned policy as a savable sampler (G-learning's includes the prior)."""
        prior = self.prior if self.config.algo == "g" else None
        return MelodyPolicy(self.q, prior, name=self.config.algo)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        behaviour: str = "boltzmann",
        epsilon: float = 0.0,
    ) -> torch.Tensor:
        """`(n, T)` compositions from the policy: `boltzmann` samples softmax(policy logits);
        `egreedy` takes argmax Q, or a uniform random event with probability `epsilon`."""
        gen = generator if generator is not None else self.generator
        if behaviour != "egreedy":
            return self.policy().sample(n, generator=gen)
        out = torch.empty(n, self.steps, dtype=torch.long)
        prev = self.q.start_tokens(n)
        state = self.q.initial_state(n)
        for t in range(self.steps):
            q_values, state = self.q.step_logits(prev, state)
            action = q_values.argmax(-1).cpu()
            explore = torch.rand(n, generator=gen) < epsilon
            random = torch.randint(self.actions, (n,), generator=gen)
            out[:, t] = torch.where(explore, random, action)
            prev = out[:, t].to(self.device)
        return out

    @torch.no_grad()
    def policy_log_probs(self, events: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced `(B, T, A)` log-policy and log-prior at every prefix of `events`."""
        events = events.to(self.device)
        log_prior = F.log_softmax(self.prior.sequence_logits(events), -1)
        return self.policy().log_probs(events), log_prior

    # ------------------------------------------------------------------ learning
    def music_reward(self, events: torch.Tensor) -> torch.Tensor:
        """`(B, T)` float32 music-theory reward of each action (CPU)."""
        return torch.as_tensor(self.reward(events.cpu())).float().cpu()

    def _push(self, events: torch.Tensor, music: torch.Tensor) -> None:
        size = self.config.replay_size
        for row, row_reward in zip(events.split(size), music.split(size), strict=True):
            idx = (self.position + torch.arange(len(row))) % size
            self.replay[idx] = row.cpu()
            self.replay_reward[idx] = row_reward
            self.position = int((self.position + len(row)) % size)
            self.filled = min(size, self.filled + len(row))

    def td_loss(
        self, events: torch.Tensor, music: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean squared TD error over every transition of the compositions `events` (B, T),
        whose music-theory rewards `music` (B, T) are computed when not given."""
        cfg = self.config
        if music is None:
            music = self.music_reward(events)
        events = events.to(self.device)
        q_all = self.q.sequence_logits(events)
        q_taken = q_all.gather(-1, events.unsqueeze(-1)).squeeze(-1)
        with torch.no_grad():
            next_q = self.target.sequence_logits(events)[:, 1:]
            log_prior = F.log_softmax(self.prior.sequence_logits(events), -1)
            prior_taken = log_prior.gather(-1, events.unsqueeze(-1)).squeeze(-1)
            music = music.to(q_taken)
            if cfg.algo == "g":
                reward = music / cfg.c
                next_value = torch.logsumexp(next_q + log_prior[:, 1:], dim=-1)
            else:
                reward = prior_taken + music / cfg.c
                next_value = (
                    torch.logsumexp(next_q, dim=-1) if cfg.algo == "psi" else next_q.amax(-1)
                )
            target = reward.clone()
            target[:, :-1] += cfg.discount * next_value  # the last step is terminal
        loss = F.mse_loss(q_taken, target)
        return loss, {"q_mean": float(q_taken.mean().detach()), "target_mean": float(target.mean())}

    def update(self) -> dict[str, float]:
        """One Adam step on a replay minibatch, then Polyak-average the target network."""
        cfg = self.config
        size = (min(cfg.minibatch, self.filled),)
        pick = torch.randint(self.filled, size, generator=self.generator)
        loss, info = self.td_loss(self.replay[pick], self.replay_reward[pick])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.q.parameters(), cfg.grad_clip)
        self.optimizer.step()
        with torch.no_grad():
            for target, source in zip(self.target.parameters(), self.q.parameters(), strict=True):
                target.lerp_(source, cfg.target_update_rate)
        self.updates += 1
        return {"td_loss": float(loss.detach()), **info}

    def step(self) -> dict[str, float]:
        """One rollout of `compositions` melodies into the replay, then the TD updates.

        Returns the rollout's music reward and log p under the prior (per composition), the
        policy's KL to the prior and entropy (per step, on the rollout), its unique fraction,
        epsilon, and the mean TD loss.
        """
        cfg = self.config
        behaviour = cfg.behaviour()
        epsilon = self.epsilon()
        events = self.sample(cfg.compositions, behaviour=behaviour, epsilon=epsilon)
        music = self.music_reward(events)
        self._push(events, music)
        self.rollouts += 1
        metrics = self.rollout_metrics(events, music)
        metrics["epsilon"] = epsilon if behaviour == "egreedy" else 0.0
        losses = [self.update() for _ in range(cfg.updates_per_rollout)]
        for key in losses[0]:
            metrics[key] = sum(m[key] for m in losses) / len(losses)
        return metrics

    @torch.no_grad()
    def rollout_metrics(
        self, events: torch.Tensor, music: torch.Tensor | None = None
    ) -> dict[str, float]:
        """Music reward, prior log p, KL(policy || prior), entropy and uniqueness of `events`."""
        if music is None:
            music = self.music_reward(events)
        log_pi, log_prior = self.policy_log_probs(events)
        events = events.to(self.device)
        probs = log_pi.exp()
        prior_taken = log_prior.gather(-1, events.unsqueeze(-1)).squeeze(-1)
        return {
            "music_reward": float(music.sum(1).mean()),
            "log_p": float(prior_taken.sum(1).mean()),
            "kl": float((probs * (log_pi - log_prior)).sum(-1).sum(1).mean()),
            "entropy": float(-(probs * log_pi).sum(-1).mean()),
            "unique": unique_fraction(events),
        }
