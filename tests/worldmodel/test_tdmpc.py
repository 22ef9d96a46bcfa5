"""The world-model agent v2 (`TDMPCAgent`) at tiny budgets: its parts, its training step, the
planner's use of the policy prior, termination metrics, the env guard and save -> load."""

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from gmrl.core.errors import CheckpointError, EnvError
from gmrl.worldmodel.tdmpc import TDMPCAgent
from gmrl.worldmodel.tdmpc.agent import episode_discount
from gmrl.worldmodel.tdmpc.layers import SimNorm, TwoHot, symexp, symlog

# small and fast: every test here runs in a few seconds on one core
TINY = {"latent_dim": 16, "hidden": 32, "batch_size": 32, "seed_steps": 40, "samples": 16,
        "policy_samples": 4, "elites": 4, "iterations": 2, "bins": 21, "num_q": 2}


def test_symlog_inverts_and_two_hot_round_trips() -> None:
    x = torch.tensor([-1234.5, -3.0, -0.2, 0.0, 0.7, 42.0, 9000.0])
    assert torch.allclose(symexp(symlog(x)), x, rtol=1e-4)
    codec = TwoHot(bins=101, vmin=-10, vmax=10)
    target = codec.encode(x)
    assert torch.allclose(target.sum(-1), torch.ones(len(x)))
    assert ((target > 0).sum(-1) <= 2).all()  # at most two bins
    decoded = codec.decode(torch.log(target.clamp_min(1e-30)))
    assert torch.allclose(decoded, x, rtol=1e-3, atol=1e-3)


def test_simnorm_groups_are_distributions() -> None:
    out = SimNorm(4)(torch.randn(3, 16))
    assert torch.allclose(out.view(3, 4, 4).sum(-1), torch.ones(3, 4))


def test_discount_follows_episode_length() -> None:
    assert episode_discount(500) == pytest.approx(0.99)
    assert episode_discount(10) == 0.95 and episode_discount(10_000) == 0.995
    assert episode_discount(None) == 0.99


@pytest.mark.parametrize(("env_id", "dynamics"), [("CartPole-v1", "state"),
                                                  ("Pendulum-v1", "state"),
                                                  ("CartPole-v1", "latent")])
def test_training_step_fits_reward_and_value(env_id: str, dynamics: str) -> None:
    """Repeated joint updates on a fixed buffer lower the reward and value losses (not checked:
    consistency and decoder, whose targets move with the encoder and the running statistics)."""
    agent = TDMPCAgent(gym.make(env_id), {**TINY, "seed_steps": 10**6, "dynamics": dynamics},
                       seed=0)
    agent.learn(200)  # random steps only: nothing trained yet
    assert agent.updates == 0
    first = agent.update()
    for _ in range(150):
        last = agent.update()
    assert all(np.isfinite(v) for v in last.values())
    assert last["reward"] < 0.75 * first["reward"]  # CartPole: at most ~0.6 (two-hot entropy)
    assert last["value"] < first["value"]


def test_learn_pretrains_then_updates_every_step() -> None:
    agent = TDMPCAgent(gym.make("Pendulum-v1"), TINY, seed=0)
    agent.learn(TINY["seed_steps"] + 5)
    assert agent.updates == TINY["seed_steps"] + 5  # pre-training on seed data, then 1 per step
    assert agent.num_timesteps == TINY["seed_steps"] + 5
    assert agent.timings["act_steps"] == 5


def test_callback_can_stop_learning() -> None:
    agent = TDMPCAgent(gym.make("CartPole-v1"), TINY, seed=0)
    agent.learn(100, callback=lambda a: a.num_timesteps < 7)
    assert agent.num_timesteps == 7


def test_planner_uses_the_policy_prior() -> None:
    """With the policy's rollouts among the candidates, a plan scored by closeness to the
    policy's action picks it exactly; without them it cannot."""
    agent = TDMPCAgent(gym.make("Pendulum-v1"), {**TINY, "samples": 2, "elites": 1,
                                                "iterations": 1}, seed=0)
    target = 0.7

    def fixed_policy(z: torch.Tensor, **_: Any) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.full((*z.shape[:-1], 1), target), torch.zeros(z.shape[:-1])

    agent.model.policy_sample = fixed_policy  # type: ignore[method-assign]
    agent.planner.score = lambda z, actions, *_: -(actions[:, 0, 0] - target).abs()
    z = agent.model.encode(torch.zeros(1, 3))
    warm = agent.planner.initial(1, z.device)
    generator = torch.Generator().manual_seed(0)
    plan = agent.planner.plan(z, warm, explore=False, generator=generator)
    assert plan.action.item() == pytest.approx(target)
    agent.planner.config = agent.config.model_copy(update={"policy_samples": 0})
    plan = agent.planner.plan(z, warm, explore=False, generator=generator)
    assert plan.action.item() != pytest.approx(target, abs=1e-3)


def test_plan_action_mean_executes_the_elites_weighted_mean() -> None:
    """`plan_action: mean` executes the first step of MPPI's weighted elite mean; `elite` the
    top-scored candidate's first action, which the score puts closer to its optimum."""
    agent = TDMPCAgent(gym.make("Pendulum-v1"), {**TINY, "samples": 32, "elites": 8,
                                                "iterations": 1, "policy_samples": 0,
                                                "plan_action": "mean", "noise_beta": 0.0},
                       seed=0)
    agent.planner.score = lambda z, actions, *_: -(actions[:, 0, 0] - 0.7).abs()
    z = agent.model.encode(torch.zeros(1, 3))
    warm = agent.planner.initial(1, z.device)
    plan = agent.planner.plan(z, warm, explore=False, generator=torch.Generator().manual_seed(0))
    assert plan.action.item() == pytest.approx(plan.mean[0, 0, 0].item())
    agent.planner.config = agent.config.model_copy(update={"plan_action": "elite"})
    best = agent.planner.plan(z, warm, explore=False, generator=torch.Generator().manual_seed(0))
    assert abs(best.action.item() - 0.7) < abs(plan.action.item() - 0.7)


def test_planning_stops_early_once_the_prior_wins() -> None:
    """`prior_stop`: when a policy proposal beats every sampled plan, the remaining MPPI
    iterations are skipped; when sampled plans keep winning, every iteration runs."""
    agent = TDMPCAgent(gym.make("Pendulum-v1"), {**TINY, "samples": 8, "elites": 2,
                                                "iterations": 4}, seed=0)
    z = agent.model.encode(torch.zeros(1, 3))
    warm = agent.planner.initial(1, z.device)
    generator = torch.Generator().manual_seed(0)

    def prior_action(value: float) -> Any:
        def policy(z: torch.Tensor, **_: Any) -> tuple[torch.Tensor, torch.Tensor]:
            return torch.full((*z.shape[:-1], 1), value), torch.zeros(z.shape[:-1])
        return policy

    # the score prefers actions near 0.7: a prior proposing exactly 0.7 always wins
    agent.planner.score = lambda z, actions, *_: -(actions[:, 0, 0] - 0.7).abs()
    agent.model.policy_sample = prior_action(0.7)  # type: ignore[method-assign]
    agent.planner.plan(z, warm, explore=False, generator=generator)
    assert agent.planner.iterations_used == 1
    # a prior proposing -1 loses to sampled plans: all 4 iterations run
    agent.model.policy_sample = prior_action(-1.0)  # type: ignore[method-assign]
    agent.planner.plan(z, warm, explore=False, generator=generator)
    assert agent.planner.iterations_used == 4
    # switched off, the search always runs to the end
    agent.planner.config = agent.config.model_copy(update={"prior_stop": None})
    agent.model.policy_sample = prior_action(0.7)  # type: ignore[method-assign]
    agent.planner.plan(z, warm, explore=False, generator=generator)
    assert agent.planner.iterations_used == 4


def test_termination_metrics_on_held_out_episodes() -> None:
    agent = TDMPCAgent(gym.make("CartPole-v1"), {**TINY, "holdout_fraction": 0.3}, seed=0)
    agent.learn(400)
    metrics = agent.model_metrics()
    assert metrics["holdout_steps"] > 0
    assert metrics["termination_true"] > 0  # CartPole episodes end by termination
    misses = metrics["termination_true"] - metrics["termination_hits"]
    assert 0 <= misses <= metrics["termination_true"]
    recall = metrics["termination_recall"]
    assert recall == pytest.approx(metrics["termination_hits"] / metrics["termination_true"])
    assert np.isfinite(metrics["reward_mae"])
    # no held-out step was trained on: every sampled start lies in a training episode
    assert not agent.buffer.holdout[np.asarray(agent.buffer.starts)].any()


def test_held_out_share_follows_the_fraction_from_the_first_episodes() -> None:
    """Held-out episodes from the start of a run at the default 5 %, long episodes or short,
    and their share of the steps stays at the fraction (over by at most one episode)."""
    from gmrl.worldmodel.tdmpc.buffer import SequenceBuffer

    for length in (12, 500):  # random CartPole episodes; a balanced pole's whole episode
        buffer = SequenceBuffer(2, 1, 100_000, 3, 0.05, np.random.default_rng(0))
        held_at = []
        for episode in range(40):
            buffer.new_episode()
            held_at += [episode] if buffer.current_holdout else []
            for _ in range(length):
                buffer.add(np.zeros(2), np.zeros(1), 0.0, np.zeros(2), False)
        assert held_at and held_at[0] == 1  # the first episode trains, the second is held out
        held = int(buffer.holdout[: buffer.size].sum())
        assert 0.05 * buffer.size <= held <= 0.05 * buffer.size + length


class NaNAfter(gym.Env):
    """An env whose observation turns NaN after a few steps (a user's bug)."""

    observation_space = spaces.Box(-1, 1, (2,), np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed: int | None = None, options: Any = None) -> Any:
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action: Any) -> Any:
        self.t += 1
        obs = np.full(2, np.nan if self.t == 5 else 0.1, np.float32)
        return obs, 0.0, False, False, {}


def test_non_finite_observation_is_one_line_error() -> None:
    agent = TDMPCAgent(NaNAfter(), TINY, seed=0)
    with pytest.raises(EnvError, match=r"non-finite observation \(nan\).*real step 4"):
        agent.learn(20)


@pytest.mark.parametrize(("env_id", "act"), [("CartPole-v1", "plan"), ("Pendulum-v1", "plan"),
                                             ("Pendulum-v1", "policy")])
def test_save_load_gives_the_same_actions(tmp_path: Path, env_id: str, act: str) -> None:
    agent = TDMPCAgent(gym.make(env_id), {**TINY, "act": act}, seed=1)
    agent.learn(60)
    observations = np.stack([gym.make(env_id).reset(seed=s)[0] for s in range(4)])
    before, _ = agent.predict(observations)
    again, _ = agent.predict(observations)
    np.testing.assert_array_equal(before, again)  # deterministic = repeatable
    agent.save(tmp_path / "agent")
    loaded = TDMPCAgent.load(tmp_path / "agent", env=gym.make(env_id))
    after, _ = loaded.predict(observations)
    np.testing.assert_array_equal(before, after)
    assert loaded.num_timesteps == agent.num_timesteps
    single, _ = loaded.predict(observations[0])
    assert gym.make(env_id).action_space.contains(single)


def test_load_refuses_a_tampered_save_and_a_wrong_env(tmp_path: Path) -> None:
    agent = TDMPCAgent(gym.make("Pendulum-v1"), TINY, seed=0)
    agent.save(tmp_path / "agent")
    with pytest.raises(EnvError, match="differ from the saved tdmpc agent"):
        TDMPCAgent.load(tmp_path / "agent", env=gym.make("CartPole-v1"))
    weights = tmp_path / "agent" / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one flipped bit
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="does not match its sha256"):
        TDMPCAgent.load(tmp_path / "agent")


def test_n_step_parts_stop_at_terminations_episode_ends_and_the_newest_step() -> None:
    """n-step sums follow each step's own stored episode, past the training horizon."""
    from gmrl.worldmodel.tdmpc.buffer import SequenceBuffer

    buffer = SequenceBuffer(1, 1, 100, 3, 0.0, np.random.default_rng(0))
    rewards = [1.0, 2.0, 4.0, 8.0, 16.0]
    buffer.new_episode()  # episode A: 5 steps, terminates at its last
    for t, r in enumerate(rewards):
        buffer.add(np.full(1, t), np.zeros(1), r, np.full(1, t + 1), t == 4)
    buffer.new_episode()  # episode B: 3 steps cut by a time limit
    for t, r in enumerate(rewards[:3]):
        buffer.add(np.full(1, 10 + t), np.zeros(1), r, np.full(1, 11 + t), False)
    buffer.new_episode()  # episode C: still running, 2 steps stored
    for t, r in enumerate(rewards[:2]):
        buffer.add(np.full(1, 20 + t), np.zeros(1), r, np.full(1, 21 + t), False)
    index = np.array([0, 3, 5, 6, 8, 9])
    n_return, weight, last = buffer.n_step_parts(index, 4, 0.5)
    expected = [1 + 1 + 1 + 1, 8 + 8, 1 + 1 + 1, 2 + 2, 1 + 1, 2]
    np.testing.assert_allclose(n_return, expected)
    # A from 0: four steps, bootstrap at step 3's next obs; A from 3: terminated, no bootstrap;
    # B: cut after 3 steps (bootstrap at its last); C: the newest step bounds the sum
    np.testing.assert_allclose(weight, [0.0625, 0.0, 0.125, 0.25, 0.25, 0.5])
    np.testing.assert_array_equal(last[[0, 2, 3, 4, 5]], [3, 7, 7, 9, 9])
    per_step, per_step_weight, _ = buffer.n_step_parts(index, np.array([3, 2, 1, 1, 2, 2]), 0.5)
    np.testing.assert_allclose(per_step, [1 + 1 + 1, 8 + 8, 1, 2, 1 + 1, 2])  # counts per step
    np.testing.assert_allclose(per_step_weight, [0.125, 0.0, 0.5, 0.5, 0.25, 0.5])
    one, one_weight, _ = buffer.n_step_parts(index, 1, 0.5)
    np.testing.assert_allclose(one, [rewards[0], rewards[3], 1, 2, 1, 2])
    np.testing.assert_allclose(one_weight, [0.5, 0.5, 0.5, 0.5, 0.5, 0.5])


def test_default_targets_bootstrap_at_the_end_of_the_sampled_sequence() -> None:
    """td_steps None: position t of a horizon-H sequence sums H - t rewards, so every target of
    a sequence bootstraps at the state after its last step (when no episode ends inside)."""
    from gmrl.worldmodel.tdmpc.buffer import SequenceBuffer

    buffer = SequenceBuffer(1, 1, 100, 3, 0.0, np.random.default_rng(0))
    buffer.new_episode()
    for t in range(20):
        buffer.add(np.full(1, t), np.zeros(1), float(t), np.full(1, t + 1), False)
    batch = buffer.sample(8, torch.device("cpu"), None, 0.5)
    start = batch["obs"][0, :, 0]
    bootstrap_obs = batch["bootstrap_obs"][batch["bootstrap_index"]]
    np.testing.assert_allclose(bootstrap_obs[..., 0], (start + 3).expand(3, -1))
    assert len(batch["bootstrap_obs"]) <= 8  # one per sequence: computed once
    np.testing.assert_allclose(batch["bootstrap_weight"], [[0.125] * 8, [0.25] * 8, [0.5] * 8])
    np.testing.assert_allclose(batch["n_return"][2], batch["reward"][2])


def test_more_target_heads_give_a_more_pessimistic_td_value() -> None:
    """`target_heads`: the TD target's minimum over more of the ensemble's heads (drawn from the
    same permutation, so the default two are among them) is never above the default's."""
    from pydantic import ValidationError

    from gmrl.worldmodel.tdmpc.config import TDMPCConfig

    agent = TDMPCAgent(gym.make("CartPole-v1"), {**TINY, "num_q": 5, "target_heads": 5},
                       seed=0)
    with torch.no_grad():  # heads that disagree (a new ensemble's outputs all start at 0)
        for parameter in agent.model.target_qs.parameters():
            parameter.add_(0.3 * torch.randn(parameter.shape, generator=torch.Generator()
                                             .manual_seed(parameter.numel())))
    z = agent.model.encode(torch.randn(64, 4))
    values = {}
    for heads in (2, 5):
        generator = torch.Generator().manual_seed(3)
        values[heads] = agent.model.value(z, target=True, reduce="min", generator=generator,
                                          heads=heads)
    assert torch.all(values[5] <= values[2]) and torch.any(values[5] < values[2])
    with pytest.raises(ValidationError, match=r"target_heads \(6\) must not exceed num_q \(5\)"):
        TDMPCConfig(target_heads=6)


def test_absorbing_fills_the_steps_after_a_termination_with_the_terminal_state() -> None:
    """absorbing: a sequence's steps after its episode terminated hold the terminal observation
    (stays put, reward 0, terminated, no return, no bootstrap) and count in the losses; steps
    after a time-limit end stay left out; without it both are left out as before."""
    from gmrl.worldmodel.tdmpc.buffer import SequenceBuffer

    buffer = SequenceBuffer(1, 1, 100, 3, 0.0, np.random.default_rng(0))
    buffer.new_episode()  # episode A terminates at its third step (next obs 103)
    for t in range(3):
        buffer.add(np.full(1, 100 + t), np.ones(1), 1.0, np.full(1, 101 + t), t == 2)
    buffer.new_episode()  # episode B is cut by a time limit after 2 steps
    for t in range(2):
        buffer.add(np.full(1, 200 + t), np.ones(1), 1.0, np.full(1, 201 + t), False)
    buffer.new_episode()
    for t in range(5):
        buffer.add(np.full(1, 300 + t), np.ones(1), 1.0, np.full(1, 301 + t), False)
    batch = buffer.sample(256, torch.device("cpu"), None, 0.5, absorbing=True)
    start = batch["obs"][0, :, 0]
    from_a = start == 102  # one real (terminal) step, then two absorbing ones
    assert from_a.any()
    np.testing.assert_array_equal(batch["mask"][:, from_a], 1.0)
    np.testing.assert_array_equal(batch["absorbing_steps"][:, from_a][:, 0], [0, 1, 1])
    np.testing.assert_array_equal(batch["obs"][1:, from_a, 0], 103.0)
    np.testing.assert_array_equal(batch["next_obs"][:, from_a, 0], 103.0)
    np.testing.assert_array_equal(batch["reward"][:, from_a][:, 0], [1, 0, 0])
    np.testing.assert_array_equal(batch["terminated"][:, from_a][:, 0], [1, 1, 1])
    np.testing.assert_array_equal(batch["n_return"][:, from_a][:, 0], [1, 0, 0])
    np.testing.assert_array_equal(batch["bootstrap_weight"][:, from_a], 0.0)
    from_b = start == 201  # a time-limit end: the next episode's steps stay out
    assert from_b.any()
    np.testing.assert_array_equal(batch["mask"][:, from_b][:, 0], [1, 0, 0])
    np.testing.assert_array_equal(batch["absorbing_steps"][:, from_b], 0.0)
    plain = buffer.sample(256, torch.device("cpu"), None, 0.5)
    plain_a = plain["obs"][0, :, 0] == 102
    np.testing.assert_array_equal(plain["mask"][:, plain_a][:, 0], [1, 0, 0])


def test_state_dynamics_read_the_standardised_observation_and_learn_its_change() -> None:
    """`dynamics: state`: no encoder or decoder; the latent is the standardised observation, the
    dynamics start as "nothing changes" and joint updates fit the real next states."""
    agent = TDMPCAgent(gym.make("Pendulum-v1"), {**TINY, "dynamics": "state", "seed_steps": 10**6},
                       seed=0)
    model = agent.model
    assert model.decoder is None and not list(model.encoder.parameters())
    agent.learn(300)
    obs = torch.as_tensor(np.stack([gym.make("Pendulum-v1").reset(seed=s)[0] for s in range(8)]))
    action = torch.zeros(8, 1)
    z = model.encode(obs)
    assert z.shape == (8, 3)
    assert torch.allclose(model.next(z, action), z)  # untrained: the state stays put
    first = agent.update()
    for _ in range(200):
        last = agent.update()
    assert last["decoder"] == 0.0
    assert last["consistency"] < 0.2 * first["consistency"]
    # the model's next state, read back as an observation, is close to the real one
    batch = agent.buffer.sample(64, agent.device, None, agent.discount, True)
    predicted = model.next(model.encode(batch["obs"][0]), batch["action"][0])
    real = model.encode(batch["next_obs"][0])
    with torch.no_grad():
        error = (predicted - real).pow(2).mean()
        still = (model.encode(batch["obs"][0]) - real).pow(2).mean()
    assert error < 0.25 * still  # better than "nothing changes"


def test_latent_dynamics_save_load_gives_the_same_actions(tmp_path: Path) -> None:
    """The earlier default (TD-MPC2's encoder and SimNorm latent, planned over the training
    horizon) stays an option that saves and loads."""
    agent = TDMPCAgent(gym.make("CartPole-v1"),
                       {**TINY, "dynamics": "latent", "plan_horizon": None}, seed=2)
    assert agent.model.decoder is not None and list(agent.model.encoder.parameters())
    agent.learn(60)
    observations = np.stack([gym.make("CartPole-v1").reset(seed=s)[0] for s in range(4)])
    before, _ = agent.predict(observations)
    agent.save(tmp_path / "agent")
    after, _ = TDMPCAgent.load(tmp_path / "agent", env=gym.make("CartPole-v1")).predict(
        observations)
    np.testing.assert_array_equal(before, after)


def test_novelty_heads_disagree_where_the_agent_has_not_been() -> None:
    """`explore > 0` adds novelty heads fitted to real changes only: after training they agree
    on the states stored and disagree far from them; without `explore` there are none, and the
    other networks start from the same weights either way."""
    config = {**TINY, "seed_steps": 10**6}
    plain = TDMPCAgent(gym.make("Pendulum-v1"), {**config, "explore": 0.0}, seed=0)
    agent = TDMPCAgent(gym.make("Pendulum-v1"), {**config, "explore": 1.0}, seed=0)
    assert plain.model.novelty is None and agent.model.novelty is not None
    plain_weights = plain.model.state_dict()
    for name, tensor in agent.model.state_dict().items():
        if not name.startswith(("novelty.", "change_std")):
            assert torch.equal(tensor, plain_weights[name]), name
    agent.learn(300)
    for _ in range(300):
        losses = agent.update()
    assert losses["novelty"] > 0
    batch = agent.buffer.sample(64, agent.device, None, agent.discount, True)
    seen = agent.model.encode(batch["obs"][0])
    action = batch["action"][0]
    with torch.no_grad():
        near = agent.model.disagreement(seen, action).mean()
        far = agent.model.disagreement(seen + 8.0, action).mean()  # 8 spreads off the data
    assert far > 4 * near
    assert torch.equal(plain.model.disagreement(seen, action), torch.zeros(64))


def test_the_novelty_bonus_draws_exploring_plans_only() -> None:
    """With rewards and values all 0 (untrained), only the bonus separates plans: an exploring
    plan heads where the heads disagree (here: positive actions); evaluation ignores it."""
    agent = TDMPCAgent(gym.make("Pendulum-v1"), {**TINY, "explore": 1.0, "samples": 64,
                                                "elites": 8, "policy_samples": 0}, seed=0)
    model = agent.model
    model.disagreement = lambda z, a: a[..., 0].clamp(min=0)  # type: ignore[method-assign]
    agent.planner.bonus = torch.tensor(1.0)
    z = model.encode(torch.zeros(1, 3))
    warm = agent.planner.initial(1, z.device)
    exploring = agent.planner.plan(z, warm, explore=True,
                                   generator=torch.Generator().manual_seed(0))
    assert exploring.mean[0, :4, 0].min() > 0.3  # the plan's first steps push positive
    evaluating = agent.planner.plan(z, warm, explore=False,
                                    generator=torch.Generator().manual_seed(0))
    assert abs(float(evaluating.mean[0, :, 0].mean())) < 0.3


def test_exploring_agent_saves_and_loads_its_novelty_heads(tmp_path: Path) -> None:
    agent = TDMPCAgent(gym.make("MountainCarContinuous-v0"), {**TINY, "explore": 1.0}, seed=3)
    agent.learn(60)
    assert agent.last_losses["novelty"] > 0
    observations = np.stack([gym.make("MountainCarContinuous-v0").reset(seed=s)[0]
                             for s in range(4)])
    before, _ = agent.predict(observations)
    agent.save(tmp_path / "agent")
    loaded = TDMPCAgent.load(tmp_path / "agent", env=gym.make("MountainCarContinuous-v0"))
    assert loaded.model.novelty is not None
    assert torch.equal(loaded.model.novelty.weights[0], agent.model.novelty.weights[0])
    after, _ = loaded.predict(observations)
    np.testing.assert_array_equal(before, after)


def test_value_expansion_sums_imagined_rewards_before_the_bootstrap() -> None:
    """`value_expansion: k`: the TD target's bootstrap is k imagined policy steps of predicted
    reward (discounted, times the predicted survival) plus the target value after them; 0 is
    the plain bootstrap."""
    agent = TDMPCAgent(gym.make("Pendulum-v1"), {**TINY, "value_expansion": 3}, seed=0)
    model, gamma = agent.model, agent.discount
    one = torch.log(model.codec.encode(torch.tensor(1.0)))  # logits that decode to 1
    model.reward_logits = lambda z, a: one.expand(*z.shape[:-1], -1)  # type: ignore[method-assign]
    model.value = lambda z, **_: torch.full(z.shape[:-1], 10.0)  # type: ignore[method-assign]
    model.termination_prob = lambda z: torch.zeros(z.shape[:-1])  # type: ignore[method-assign]
    z = model.encode(torch.zeros(4, 3))
    expected = 1 + gamma + gamma**2 + gamma**3 * 10
    assert torch.allclose(agent._expanded_value(z), torch.full((4,), expected), atol=1e-3)
    model.termination_prob = lambda z: torch.ones(z.shape[:-1])  # type: ignore[method-assign]
    assert torch.allclose(agent._expanded_value(z), torch.ones(4), atol=1e-3)  # ends at step 1
    agent.config = agent.config.model_copy(update={"value_expansion": 0})
    assert torch.allclose(agent._expanded_value(z), torch.full((4,), 10.0))


def test_bootstrap_action_is_the_next_stored_action_where_one_was_taken() -> None:
    """The buffer gives each target the action stored next from its bootstrap state, and marks
    where there is none: at a termination, a time-limit end, the newest step."""
    from gmrl.worldmodel.tdmpc.buffer import SequenceBuffer

    buffer = SequenceBuffer(1, 1, 100, 2, 0.0, np.random.default_rng(0))
    buffer.new_episode()  # A: 4 steps, terminates at its last
    for t in range(4):
        buffer.add(np.full(1, t), np.full(1, 10 + t), 1.0, np.full(1, t + 1), t == 3)
    buffer.new_episode()  # B: 4 steps cut by a time limit
    for t in range(4):
        buffer.add(np.full(1, 20 + t), np.full(1, 30 + t), 1.0, np.full(1, 21 + t), False)
    buffer.new_episode()  # C: still running
    for t in range(3):
        buffer.add(np.full(1, 40 + t), np.full(1, 50 + t), 1.0, np.full(1, 41 + t), False)
    batch = buffer.sample(256, torch.device("cpu"), 1, 0.5, absorbing=False)
    index = batch["bootstrap_index"]
    obs, acted = batch["obs"][..., 0], batch["bootstrap_acted"][index]
    action = batch["bootstrap_action"][index][..., 0]
    inside = (batch["mask"] > 0)
    last_of_episode = inside & ((obs == 3) | (obs == 23) | (obs == 42))
    assert bool((acted[last_of_episode] == 0).all())  # termination, time limit, newest step
    followed = inside & ~last_of_episode
    assert bool(followed.any()) and bool((acted[followed] == 1).all())
    np.testing.assert_allclose(action[followed], obs[followed] + 11)  # the next step's action


def test_taken_bootstrap_values_the_action_taken_and_falls_back_to_the_prior() -> None:
    """`bootstrap_action: taken`: Q at the stored action where one was taken, the prior's
    expanded value elsewhere; `prior` ignores the stored action."""
    agent = TDMPCAgent(gym.make("Pendulum-v1"), {**TINY, "bootstrap_action": "taken"}, seed=0)
    model = agent.model
    model.q_value = lambda z, a, **_: a[..., 0] * 100  # type: ignore[method-assign]
    agent._expanded_value = lambda z: torch.full(z.shape[:-1], -7.0)  # type: ignore[method-assign]
    z = model.encode(torch.zeros(3, 3))
    batch = {"bootstrap_action": torch.tensor([[0.5], [0.25], [1.0]]),
             "bootstrap_acted": torch.tensor([1.0, 1.0, 0.0])}
    np.testing.assert_allclose(agent._bootstrap_value(z, batch), [50.0, 25.0, -7.0])
    agent.config = agent.config.model_copy(update={"bootstrap_action": "prior"})
    np.testing.assert_allclose(agent._bootstrap_value(z, batch), [-7.0, -7.0, -7.0])


def _lag_one_correlation(x: np.ndarray) -> float:
    """Mean correlation of consecutive entries along the last axis."""
    a, b = x[..., :-1].ravel(), x[..., 1:].ravel()
    return float(np.corrcoef(a, b)[0, 1])


@pytest.mark.parametrize("beta", [0.0, 2.0])
def test_colored_noise_correlates_candidates_and_seed_steps(beta: float) -> None:
    """`noise_beta > 0`: MPPI's Box candidates and the random seed steps push one way for a
    while (consecutive steps correlated); 0 keeps them white."""
    config = {**TINY, "noise_beta": beta, "plan_horizon": 16, "seed_steps": 200}
    agent = TDMPCAgent(gym.make("Pendulum-v1"), config, seed=0)
    mean = torch.zeros(3, 16, 1)
    drawn = agent.planner._draw(mean, torch.ones_like(mean), 64, torch.Generator().manual_seed(0))
    assert drawn.shape == (3, 64, 16, 1) and drawn.abs().max() <= 1
    candidates = _lag_one_correlation(drawn.squeeze(-1).numpy())
    agent.learn(150)  # seed steps only
    seed_actions = agent.buffer.data["action"][:150, 0]
    steps = _lag_one_correlation(seed_actions)
    if beta > 0:
        assert candidates > 0.5 and steps > 0.8
        again = TDMPCAgent(gym.make("Pendulum-v1"), config, seed=0).learn(150)
        assert np.array_equal(again.buffer.data["action"][:150, 0], seed_actions)
    else:
        assert abs(candidates) < 0.15 and abs(steps) < 0.2


@pytest.mark.parametrize("env_id", ["Pendulum-v1", "Acrobot-v1"])  # rewards below 0: Q alone
def test_prior_imitation_draws_the_prior_to_the_actions_taken(env_id: str) -> None:
    """`prior_imitation > 0`: the prior's step also raises the likelihood of the stored actions,
    so after pre-training on seed steps that all took one action the prior proposes it; with
    0 it does not."""
    def gap(weight: float) -> float:
        agent = TDMPCAgent(gym.make(env_id), {**TINY, "prior_imitation": weight}, seed=0)
        taken = np.asarray(0) if agent.discrete else np.full(1, 0.7, np.float32)
        agent._random_action = lambda: taken  # type: ignore[method-assign]
        agent.learn(TINY["seed_steps"])  # the seed steps, then as many updates
        for _ in range(60):
            agent.update()
        states = torch.as_tensor(agent.buffer.data["obs"][: agent.buffer.size])
        with torch.no_grad():
            z = agent.model.encode(states)
            if agent.discrete:  # the prior's mean probability of any other action
                first = torch.zeros(len(z), agent.model.action_dim)
                first[:, 0] = 1
                return float(1 - agent.model.policy_log_prob(z, first).exp().mean())
            action, _ = agent.model.policy_sample(z, deterministic=True)
        return float((action - 0.7).abs().mean())
    imitating, plain = gap(10.0), gap(0.0)
    assert imitating < 0.3
    assert plain > 3 * imitating


def test_return_bound_gives_every_step_its_long_return_parts() -> None:
    """`bound_steps` n: each sampled step's n-step return, its bootstrap weight and state are
    those of `n_step_parts` with n, beside the default short targets; absorbing steps after a
    termination get none."""
    from gmrl.worldmodel.tdmpc.buffer import SequenceBuffer

    buffer = SequenceBuffer(1, 1, 100, 3, 0.0, np.random.default_rng(0))
    buffer.new_episode()
    for t in range(12):
        buffer.add(np.full(1, t), np.zeros(1), 1.0, np.full(1, t + 1), t == 11)
    buffer.new_episode()  # so sequences may start at the first episode's last steps
    for t in range(5):
        buffer.add(np.full(1, 50 + t), np.zeros(1), 1.0, np.full(1, 51 + t), False)
    batch = buffer.sample(128, torch.device("cpu"), None, 0.5, absorbing=True, bound_steps=6)
    start = batch["obs"][0, :, 0].numpy().astype(int)
    index = np.where(start < 50, start, start - 38)[None, :] + np.arange(3)[:, None]
    n_return, weight, last = buffer.n_step_parts(index, 6, 0.5)
    last = np.where(last < 12, last, last + 38)  # back to the stored observations
    real = (batch["absorbing_steps"].numpy() == 0) & (batch["mask"].numpy() > 0)
    np.testing.assert_allclose(batch["bound_return"].numpy()[real], n_return[real])
    np.testing.assert_allclose(batch["bound_weight"].numpy()[real], weight[real])
    np.testing.assert_allclose(batch["bound_obs"][..., 0].numpy()[real], last[real] + 1)
    absorbing = batch["absorbing_steps"].numpy() > 0
    assert absorbing.any()  # sequences starting at 10 or 11 run into the termination
    np.testing.assert_array_equal(batch["bound_return"].numpy()[absorbing], 0.0)
    np.testing.assert_array_equal(batch["bound_weight"].numpy()[absorbing], 0.0)
    assert "bound_return" not in buffer.sample(8, torch.device("cpu"), None, 0.5)


def test_return_bound_raises_a_target_to_the_collected_return_only() -> None:
    """The bounded target is the larger of the TD target and the long return: a target below
    what was collected is raised to it, one above stays, and the share raised is reported."""
    agent = TDMPCAgent(gym.make("Pendulum-v1"), {**TINY, "return_bound": 10}, seed=0)
    agent.model.value = lambda z, **_: torch.full(z.shape[:-1], 2.0)  # type: ignore[method-assign]
    batch = {"bound_obs": torch.zeros(2, 2, 3), "bound_return": torch.tensor([[5.0, 1.0],
                                                                            [0.0, 3.0]]),
             "bound_weight": torch.tensor([[0.5, 0.5], [0.0, 0.5]])}
    td_target = torch.tensor([[4.0, 4.0], [4.0, 1.0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])  # the last step is past its episode
    bounded, share = agent._bounded_target(td_target, batch, mask)
    np.testing.assert_allclose(bounded, [[6.0, 4.0], [4.0, 4.0]])
    assert share == pytest.approx(1 / 3)
    # exact: only the return that ended in a termination (bootstrap weight 0) bounds
    agent.config = agent.config.model_copy(update={"return_bound_kind": "exact"})
    exact, exact_share = agent._bounded_target(torch.full((2, 2), -1.0), batch, mask)
    np.testing.assert_allclose(exact, [[-1.0, -1.0], [0.0, -1.0]])
    assert exact_share == pytest.approx(1 / 3)


def test_learning_with_a_return_bound_logs_how_often_it_decides() -> None:
    agent = TDMPCAgent(gym.make("CartPole-v1"), {**TINY, "return_bound": 20}, seed=0)
    agent.learn(TINY["seed_steps"] + 20)
    assert 0.0 <= agent.last_losses["bound_share"] <= 1.0
    assert np.isfinite(agent.last_losses["value"])


def test_exact_return_bound_changes_nothing_on_a_task_without_terminations() -> None:
    """`exact` bounds only with returns that ended in a termination and draws no random
    numbers, so on Pendulum (time limits only) learning is the same, weight for weight."""
    weights = []
    for change in ({}, {"return_bound": 20, "return_bound_kind": "exact"}):
        agent = TDMPCAgent(gym.make("Pendulum-v1"), {**TINY, **change}, seed=0)
        agent.learn(TINY["seed_steps"] + 10)
        weights.append(torch.cat([p.detach().flatten() for p in agent.model.parameters()]))
    assert torch.equal(weights[0], weights[1])
