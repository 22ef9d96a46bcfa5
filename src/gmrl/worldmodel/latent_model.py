"""`LatentWorldModel`: FrameVAE + MDN-RNN behind the `WorldModel` contract.

What is the "obs" that `step` takes and returns? As in World Models, it is the *latent state*
`s_t = [z_t, h_t]`: the VAE code of the current (stacked) frame and the GRU's summary of the past.
That vector is Markovian for the model, small (z_dim + hidden floats), and it is exactly what a
controller sees both in the dream and in the real env, so an SB3 agent trained in the dream acts
in the real env unchanged:

```python
wm = LatentWorldModel(frame_shape=(2, 32, 64), action_dim=2, config=LatentModelConfig())
wm.fit(transitions)                                  # obs/next_obs are uint8 frames
s = wm.initial_state(first_frames)                   # real env: [z_0, h_0 = 0]
s = wm.observe(s, action, next_frames)               # real env: h from the true action, z encoded
s, r, done = wm.step(s, action, generator=g)         # dream: z sampled from the mixture
```

Frames are decoded back (`decode_state`) only for plots. `fit` trains the VAE on every frame,
encodes them (posterior means), then trains the MDN-RNN on whole episodes in windows of
`seq_len` steps whose initial hidden state comes from a no-grad pass over the episode prefix,
so `h` means the same in training, in the real env and in the dream.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from pydantic import Field
from torch import nn

from gmrl.core.config import PositiveFloat, StrictModel
from gmrl.rl.transitions import TransitionBatch
from gmrl.worldmodel.base import WorldModel
from gmrl.worldmodel.frame_vae import FrameVAE
from gmrl.worldmodel.mdn_rnn import MDNRNN, last_linear, mixture_log_prob


@dataclass
class Episode:
    """One real episode: T+1 frames (uint8), T actions, rewards and termination flags."""

    frames: torch.Tensor  # (T+1, C, H, W) uint8
    actions: torch.Tensor  # (T,) long or (T, A) float
    rewards: torch.Tensor  # (T,)
    terminated: torch.Tensor  # (T,) bool

    def __len__(self) -> int:
        return len(self.actions)


def split_episodes(transitions: TransitionBatch) -> list[Episode]:
    """Cut time-ordered transitions into episodes at terminated/truncated flags and at gaps."""
    obs, next_obs = transitions["obs"], transitions["next_obs"]
    ends = transitions["terminated"].bool() | transitions["truncated"].bool()
    if len(obs) > 1:
        gaps = (next_obs[:-1] != obs[1:]).flatten(1).any(1)
        ends[:-1] |= gaps
    ends[-1] = True
    episodes, start = [], 0
    for end in (torch.nonzero(ends).flatten() + 1).tolist():
        episodes.append(
            Episode(
                frames=torch.cat([obs[start:end], next_obs[end - 1 : end]]),
                actions=transitions["action"][start:end],
                rewards=transitions["reward"][start:end].float(),
                terminated=transitions["terminated"][start:end].bool(),
            )
        )
        start = end
    return episodes


@dataclass
class PaddedEpisodes:
    """Encoded episodes padded to a common length, for batched recurrent passes."""

    z: torch.Tensor  # (E, T+1, D)
    actions: torch.Tensor  # (E, T[, A])
    rewards: torch.Tensor  # (E, T)
    terminated: torch.Tensor  # (E, T)
    lengths: torch.Tensor  # (E,)

    @property
    def mask(self) -> torch.Tensor:
        steps = torch.arange(self.rewards.shape[1], device=self.lengths.device)
        return steps[None] < self.lengths[:, None]


class LatentModelConfig(StrictModel):
    """`LatentWorldModel` sizes, optimisers and per-fit budget (the one set of defaults)."""

    z_dim: int = Field(default=16, ge=1, description="VAE latent size")
    hidden: int = Field(default=64, ge=4, description="GRU hidden size")
    mixtures: int = Field(default=5, ge=1, description="Gaussian mixture components of the MDN")
    vae_channels: int = Field(default=16, ge=4, description="first conv layer's channels")
    beta: PositiveFloat = Field(default=0.25, description="weight of the VAE's KL term")
    temperature: PositiveFloat = Field(
        default=1.0, description="MDN sampling temperature in the dream"
    )
    vae_lr: PositiveFloat = Field(default=1e-3, description="VAE Adam learning rate")
    rnn_lr: PositiveFloat = Field(default=1e-3, description="MDN-RNN Adam learning rate")
    first_vae_steps: int = Field(default=1500, ge=1, description="VAE updates in the first fit")
    vae_steps: int = Field(default=100, ge=0, description="VAE fine-tuning updates per later fit")
    first_rnn_steps: int = Field(default=1500, ge=1, description="MDN-RNN updates in the first fit")
    rnn_steps: int = Field(default=500, ge=0, description="MDN-RNN updates per later fit")
    batch_size: int = Field(default=64, ge=2, description="VAE batch (frames)")
    rnn_batch_size: int = Field(default=16, ge=1, description="MDN-RNN batch (windows of seq_len)")
    seq_len: int = Field(default=32, ge=2, description="MDN-RNN training window")
    validation_fraction: float = Field(
        default=0.1, ge=0, lt=1, description="episodes held out of the RNN's training for val_nll"
    )


class LatentWorldModel(WorldModel):
    """World Models' V + M: a frame VAE and an MDN-RNN over its latents; obs = [z, h].

    The first `fit` uses the `first_*` budgets (a VAE and an RNN trained from scratch), later
    ones the smaller fine-tuning budgets.
    """

    heads_initialised: torch.Tensor
    fits: torch.Tensor  # fits so far (a buffer, so saved files and checkpoints carry it)

    def __init__(
        self,
        frame_shape: tuple[int, int, int] = (2, 32, 64),
        action_dim: int = 2,
        discrete: bool = True,
        config: LatentModelConfig | None = None,
    ) -> None:
        super().__init__()
        c = self.config = config or LatentModelConfig()
        self.frame_shape, self.action_dim, self.discrete = tuple(frame_shape), action_dim, discrete
        channels, height, width = frame_shape
        self.vae = FrameVAE(channels, height, width, c.z_dim, c.vae_channels, c.beta, c.vae_lr)
        self.rnn = MDNRNN(c.z_dim, action_dim, discrete, c.hidden, c.mixtures)
        self.rnn_optimizer = torch.optim.Adam(self.rnn.parameters(), lr=c.rnn_lr)
        self.temperature = c.temperature
        self.register_buffer("heads_initialised", torch.tensor(False))
        self.register_buffer("fits", torch.tensor(0))

    @property
    def z_dim(self) -> int:
        return self.rnn.z_dim

    @property
    def state_dim(self) -> int:
        """Length of the latent state [z, h] that `step` consumes and returns."""
        return self.rnn.z_dim + self.rnn.hidden

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # ------------------------------------------------------------------ latent state helpers
    def split_state(self, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return state[..., : self.z_dim], state[..., self.z_dim :]

    @torch.no_grad()
    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """Posterior-mean latents of uint8 frames."""
        return self.vae.encode(frames)

    @torch.no_grad()
    def initial_state(self, frames: torch.Tensor) -> torch.Tensor:
        """[z_0, 0] for a batch of first frames of real episodes."""
        z = self.encode(frames)
        return torch.cat([z, z.new_zeros(len(z), self.rnn.hidden)], -1)

    @torch.no_grad()
    def observe(
        self, state: torch.Tensor, action: torch.Tensor, next_frames: torch.Tensor
    ) -> torch.Tensor:
        """Real-env filter: advance h with the action taken, encode the frame that followed."""
        z, h = self.split_state(state)
        h_next = self.rnn.advance(h, z, action.to(self.device))
        return torch.cat([self.encode(next_frames), h_next], -1)

    @torch.no_grad()
    def decode_state(self, state: torch.Tensor) -> torch.Tensor:
        """Ink images in [0, 1] for latent states (plots of dreams)."""
        return self.vae.decode(self.split_state(state)[0])

    # ------------------------------------------------------------------ WorldModel contract
    @torch.no_grad()
    def step(
        self,
        obs: torch.Tensor,
        action: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        temperature: float | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Dream one step for a batch of latent states: (next state, reward, terminated)."""
        z, h = self.split_state(obs.to(self.device))
        h_next = self.rnn.advance(h, z, action.to(self.device))
        out = self.rnn.heads(h_next, z)
        tau = self.temperature if temperature is None else temperature
        z_next = self.rnn.sample_next(out, temperature=tau, generator=generator)
        reward, done_logit = self.rnn.outcome(h_next, z_next)
        uniform = torch.rand(done_logit.shape, generator=generator).to(z.device)
        terminated = uniform < torch.sigmoid(done_logit)
        return torch.cat([z_next, h_next], -1), reward, terminated

    def fit(
        self,
        transitions: TransitionBatch,
        *,
        generator: torch.Generator | None = None,
        vae_steps: int | None = None,
        rnn_steps: int | None = None,
    ) -> dict[str, float]:
        """Fit to time-ordered transitions whose obs/next_obs are uint8 frames."""
        return self.fit_episodes(
            split_episodes(transitions), generator=generator, vae_steps=vae_steps,
            rnn_steps=rnn_steps,
        )

    def fit_episodes(
        self,
        episodes: list[Episode],
        *,
        generator: torch.Generator | None = None,
        vae_steps: int | None = None,
        rnn_steps: int | None = None,
        on_update: Callable[[], None] | None = None,
    ) -> dict[str, float]:
        """Train the VAE (about `vae_steps` updates, in whole epochs over all frames), then the
        MDN-RNN (`rnn_steps` updates). Budgets are counted in updates so that a small first data
        set still gets a well-trained model; by default they are the config's (`first_*` on the
        first fit).

        A `validation_fraction` of episodes (at least one, when there are two or more) is held
        out of the RNN's training to report `val_nll` (per latent dimension, nats).
        `on_update()` is called after every VAE epoch and every RNN update (it may raise to
        abandon the fit, e.g. on Ctrl-C; the caller then restores the model it saved before).
        """
        if not episodes:
            raise ValueError("fit needs at least one episode")
        c = self.config
        first = int(self.fits) == 0
        if vae_steps is None:
            vae_steps = c.first_vae_steps if first else c.vae_steps
        if rnn_steps is None:
            rnn_steps = c.first_rnn_steps if first else c.rnn_steps
        batch_size, rnn_batch_size, seq_len = c.batch_size, c.rnn_batch_size, c.seq_len
        validation_fraction = c.validation_fraction
        generator = generator or torch.Generator().manual_seed(0)
        self.fits.add_(1)
        metrics: dict[str, float] = {}
        if vae_steps > 0:
            frames = torch.cat([e.frames for e in episodes])
            epochs = max(1, round(vae_steps * batch_size / len(frames)))
            history = self.vae.fit(
                frames, epochs=epochs, batch_size=batch_size, generator=generator,
                callback=None if on_update is None else lambda _epoch, _means: on_update(),
            )
            metrics.update({f"vae_{k}": v[-1] for k, v in history.metrics.items()})
        order = torch.randperm(len(episodes), generator=generator).tolist()
        n_val = max(1, round(validation_fraction * len(episodes))) if len(episodes) > 1 else 0
        train = self.pad([episodes[i] for i in order[n_val:]])
        val = self.pad([episodes[i] for i in order[:n_val]]) if n_val else None
        if not bool(self.heads_initialised):
            self.init_outcome_heads(train)
        if rnn_steps > 0:
            metrics.update(
                self.fit_rnn(
                    train,
                    steps=rnn_steps,
                    batch_size=rnn_batch_size,
                    seq_len=seq_len,
                    generator=generator,
                    on_update=on_update,
                )
            )
        if val is not None:
            metrics["val_nll"] = float(self.sequence_nll(val).mean())
        return metrics

    # ------------------------------------------------------------------ RNN training internals
    @torch.no_grad()
    def pad(self, episodes: list[Episode]) -> PaddedEpisodes:
        """Encode and pad episodes (to the longest) on the model's device."""
        device = self.device
        lengths = torch.tensor([len(e) for e in episodes], device=device)
        longest = int(lengths.max())
        z = torch.zeros(len(episodes), longest + 1, self.z_dim, device=device)
        action_shape = episodes[0].actions.shape[1:]
        dtype = torch.long if self.rnn.discrete else torch.float32
        actions = torch.zeros(len(episodes), longest, *action_shape, dtype=dtype, device=device)
        rewards = torch.zeros(len(episodes), longest, device=device)
        terminated = torch.zeros(len(episodes), longest, device=device)
        codes = self.encode(torch.cat([e.frames for e in episodes])).split(
            [len(e) + 1 for e in episodes]
        )
        for i, (episode, code) in enumerate(zip(episodes, codes, strict=True)):
            t = len(episode)
            z[i, : t + 1] = code
            actions[i, :t] = episode.actions.to(device, dtype)
            rewards[i, :t] = episode.rewards.to(device)
            terminated[i, :t] = episode.terminated.to(device).float()
        return PaddedEpisodes(z, actions, rewards, terminated, lengths)

    @torch.no_grad()
    def init_outcome_heads(self, data: PaddedEpisodes) -> None:
        """Start the reward and termination heads at the data's mean reward and base rate.

        Adam moves a bias by about the learning rate per update, so starting at 0 would spend
        the first thousand updates just finding the scale of rewards (3 per decision under
        action repeat 3) and the termination rate.
        """
        mask = data.mask
        rate = data.terminated[mask].mean().clamp(1e-3, 1 - 1e-3)
        last_linear(self.rnn.reward_head).bias.fill_(float(data.rewards[mask].mean()))
        last_linear(self.rnn.done_head).bias.fill_(float(torch.log(rate / (1 - rate))))
        self.heads_initialised.fill_(True)

    @torch.no_grad()
    def hidden_states(self, data: PaddedEpisodes) -> torch.Tensor:
        """h_t for every step t = 0..T of every episode (teacher forced), shape (E, T+1, H)."""
        out = self.rnn(data.z[:, :-1], data.actions)
        h0 = data.z.new_zeros(len(data.z), 1, self.rnn.hidden)
        return torch.cat([h0, out.hidden], 1)

    @torch.no_grad()
    def latent_states(self, data: PaddedEpisodes) -> torch.Tensor:
        """Every real non-final latent state [z_t, h_t] (rows), e.g. as dream start states."""
        states = torch.cat([data.z[:, :-1], self.hidden_states(data)[:, :-1]], -1)
        return states[data.mask]

    @torch.no_grad()
    def sequence_nll(self, data: PaddedEpisodes) -> torch.Tensor:
        """Per-step latent NLL (per dimension, nats) of every real transition, flattened."""
        out = self.rnn(data.z[:, :-1], data.actions)
        return -mixture_log_prob(out, data.z[:, 1:])[data.mask] / self.z_dim

    def fit_rnn(
        self,
        data: PaddedEpisodes,
        *,
        steps: int,
        batch_size: int = 16,
        seq_len: int = 32,
        refresh_every: int = 100,
        generator: torch.Generator | None = None,
        on_update: Callable[[], None] | None = None,
    ) -> dict[str, float]:
        """`steps` Adam updates of the MDN-RNN on random windows of already-encoded episodes.

        A window of `seq_len` steps starts at a uniformly drawn real transition, from the hidden
        state a no-grad pass over its episode gave (refreshed every `refresh_every` updates), so
        the budget is counted in updates and does not shrink when episodes are few.
        Returns the mean losses over the last `refresh_every` updates.
        """
        generator = generator or torch.Generator().manual_seed(0)
        where = torch.nonzero(data.mask)  # (transitions, 2): episode, step
        offsets = torch.arange(seq_len, device=self.device)
        last_t = data.rewards.shape[1] - 1
        sums: dict[str, float] = {}
        count = 0
        hidden = self.hidden_states(data)
        self.rnn.train()
        for update in range(steps):
            if update and update % refresh_every == 0:
                hidden = self.hidden_states(data)
                sums, count = {}, 0
            pick = torch.randint(len(where), (batch_size,), generator=generator).to(self.device)
            e, s = where[pick, 0], where[pick, 1]
            t = s[:, None] + offsets[None]
            valid = t < data.lengths[e][:, None]
            t = t.clamp_max(last_t)
            rows = e[:, None]
            out = self.rnn(
                data.z[rows, t], data.actions[rows, t], hidden[e, s], data.z[rows, t + 1]
            )
            losses = self.rnn.loss(
                out, data.z[rows, t + 1], data.rewards[rows, t], data.terminated[rows, t], valid
            )
            self.rnn_optimizer.zero_grad(set_to_none=True)
            losses["loss"].backward()
            nn.utils.clip_grad_norm_(self.rnn.parameters(), 100.0)
            self.rnn_optimizer.step()
            for key, value in losses.items():
                sums[key] = sums.get(key, 0.0) + value.item()
            count += 1
            if on_update is not None:
                on_update()
        self.rnn.eval()
        return {f"rnn_{k}": v / max(count, 1) for k, v in sums.items()}

    # ------------------------------------------------------------------ persistence
    def init_args(self) -> dict[str, Any]:
        return {
            "frame_shape": list(self.frame_shape),
            "action_dim": self.action_dim,
            "discrete": self.discrete,
            "config": self.config.model_dump(mode="json"),
        }

    @classmethod
    def build(cls, init: dict[str, Any], **extra: Any) -> "LatentWorldModel":
        if extra:
            raise TypeError(f"unexpected arguments for LatentWorldModel: {', '.join(extra)}")
        frame_shape = tuple(int(v) for v in init["frame_shape"])
        return cls(
            frame_shape=(frame_shape[0], frame_shape[1], frame_shape[2]),
            action_dim=int(init["action_dim"]),
            discrete=bool(init["discrete"]),
            config=LatentModelConfig.model_validate(init["config"]),
        )

    def optimizer_states(self) -> dict[str, Any]:
        """Both optimizers (the VAE's Adam and the MDN-RNN's), for exact resume."""
        return {
            "vae": {name: opt.state_dict() for name, opt in self.vae.optimizers.items()},
            "rnn": self.rnn_optimizer.state_dict(),
        }

    def load_optimizer_states(self, states: dict[str, Any]) -> None:
        for name, optimizer in self.vae.optimizers.items():
            optimizer.load_state_dict(states["vae"][name])
        self.rnn_optimizer.load_state_dict(states["rnn"])
