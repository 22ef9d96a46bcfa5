"""RewardTuner: raises a reward under a KL leash, every estimator learns, bad steps stop cleanly."""

import copy

import pytest
import torch
from pydantic import ValidationError

from gmrl.core.errors import GmrlError
from gmrl.core.rundir import RunDir
from gmrl.generative.autoregressive import AutoregressiveModel
from gmrl.generative.logit_guide import LogitGuide
from gmrl.sequence.diversity import unique_fraction
from gmrl.sequence.markov import MarkovChain
from gmrl.sequence.rewards import build_reward
from gmrl.sequence.tuner import (
    CollapseDetected,
    KLLimitExceeded,
    NonFiniteLoss,
    RewardTuner,
    TunerConfig,
    TuningStopped,
)

TARGET = 0  # a token the pre-trained model emits about 5% of the time


@pytest.fixture(scope="module")
def pretrained() -> AutoregressiveModel:
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    data = MarkovChain.random(6, 0.5, g).sample(1000, 8, g)
    torch.manual_seed(0)
    model = AutoregressiveModel(vocab_size=6, seq_len=8, embed_dim=16, hidden=32, lr=1e-2)
    model.fit(data, epochs=5, batch_size=100, generator=g)
    return model


def _reward_of(model: AutoregressiveModel, n: int = 2000) -> float:
    samples = model.sample(n, generator=torch.Generator().manual_seed(123))
    return float(build_reward("token_frequency", token=TARGET)(samples).mean())


def _tune(model: AutoregressiveModel, steps: int, **settings) -> tuple[RewardTuner, list[dict]]:
    policy = copy.deepcopy(model)
    config = TunerConfig(**{"lr": 1e-2, "batch_size": 64, **settings})
    tuner = RewardTuner(
        policy, build_reward("token_frequency", token=TARGET), config,
        generator=torch.Generator().manual_seed(1),
    )
    return tuner, tuner.train(steps)


def _mean(history: list[dict], key: str, last: int = 10) -> float:
    return sum(row[key] for row in history[-last:]) / last


def test_reward_rises_while_the_kl_penalty_holds_the_policy_near_the_reference(pretrained) -> None:
    before = _reward_of(pretrained)
    loose, loose_history = _tune(pretrained, 40, estimator="rloo", beta=0.1)
    tight, tight_history = _tune(pretrained, 40, estimator="rloo", beta=2.0)
    loose_reward, tight_reward = _reward_of(loose.policy), _reward_of(tight.policy)
    assert loose_reward > before + 0.1, (before, loose_reward)
    # At the optimum, KL <= (max reward - reference reward) / beta < 10 nats; we stay well below.
    assert _mean(loose_history, "kl") < 4.0
    assert tight_reward < loose_reward - 0.08
    assert _mean(tight_history, "kl") < _mean(loose_history, "kl") / 3
    # The reference is frozen; the tuned policy is not.
    assert all(torch.equal(a, b) for a, b in zip(
        loose.reference.state_dict().values(), pretrained.state_dict().values(), strict=True
    ))
    for key in ("reward", "kl", "entropy", "distinct_1", "distinct_2", "unique", "beta"):
        assert key in loose_history[-1]


def _reference_log_likelihood(policy: AutoregressiveModel, reference: AutoregressiveModel) -> float:
    samples = policy.sample(2000, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        log_ref = torch.log_softmax(reference.sequence_logits(samples), dim=-1)
    return float(log_ref.gather(-1, samples.unsqueeze(-1)).sum((1, 2)).mean())


def test_a_cooler_reference_pulls_samples_toward_what_the_reference_finds_likely(
    pretrained,
) -> None:
    """With no reward at all, reference_temperature < 1 is the only force: mode seeking."""
    def tune(temperature: float) -> tuple[RewardTuner, list[dict]]:
        policy = copy.deepcopy(pretrained)
        config = TunerConfig(lr=1e-2, batch_size=64, beta=1.0, reference_temperature=temperature)
        tuner = RewardTuner(
            policy, lambda tokens: torch.zeros(len(tokens)), config,
            generator=torch.Generator().manual_seed(1),
        )
        return tuner, tuner.train(40)

    before = _reference_log_likelihood(pretrained, pretrained)
    plain, plain_history = tune(1.0)
    cool, cool_history = tune(0.5)
    assert abs(_reference_log_likelihood(plain.policy, pretrained) - before) < 0.5
    assert _reference_log_likelihood(cool.policy, pretrained) > before + 1.0
    assert _mean(cool_history, "entropy") < _mean(plain_history, "entropy") - 0.1
    assert "kl_target" in cool_history[-1] and "kl_target" not in plain_history[-1]


@pytest.mark.parametrize(
    "settings",
    [
        {"estimator": "reinforce"},
        {"estimator": "reinforce", "baseline": "learned"},
        {"estimator": "rloo", "group_size": 8},
        {"estimator": "ppo", "ppo_epochs": 2},
    ],
    ids=["reinforce", "reinforce-learned", "rloo", "ppo"],
)
def test_every_estimator_raises_the_reward(pretrained, settings) -> None:
    before = _reward_of(pretrained)
    tuner, history = _tune(pretrained, 25, beta=0.1, **settings)
    assert len(history) == 25 and tuner.step_count == 25
    assert all(torch.isfinite(torch.tensor(list(row.values()))).all() for row in history)
    assert _reward_of(tuner.policy) > before + 0.05


def test_adaptive_kl_controller_pulls_the_kl_to_its_target(pretrained) -> None:
    _, fixed = _tune(pretrained, 25, beta=0.1)
    _, adaptive = _tune(pretrained, 25, beta=0.1, target_kl=0.05, kl_horizon=200)
    assert adaptive[-1]["beta"] > 0.2  # the KL overshot the target, so beta was raised
    assert _mean(adaptive, "kl", last=5) < 0.3 < _mean(fixed, "kl", last=5)


def test_prompts_are_kept_and_only_completions_are_tuned(pretrained) -> None:
    prompts = torch.tensor([[1, 2], [3, 3]])
    tuner = RewardTuner(
        copy.deepcopy(pretrained), build_reward("token_frequency", token=TARGET),
        TunerConfig(batch_size=16, group_size=4), prompts=prompts,
        generator=torch.Generator().manual_seed(0),
    )
    tokens, mask = tuner._sample()
    assert any(torch.equal(row[:2], p) for row in tokens for p in prompts)
    assert all(any(torch.equal(row[:2], p) for p in prompts) for row in tokens)
    assert torch.equal(mask[:, :2], torch.zeros(16, 2)) and bool(mask[:, 2:].all())
    assert tuner.step()["kl"] == pytest.approx(0.0, abs=1e-6)  # policy == reference at step 0


def test_step_rewards_are_credited(pretrained) -> None:
    def per_position(tokens: torch.Tensor) -> torch.Tensor:
        return (tokens == TARGET).float()

    tuner = RewardTuner(
        copy.deepcopy(pretrained), lambda tokens: torch.zeros(len(tokens)),
        TunerConfig(lr=1e-2, beta=0.1), step_reward_fn=per_position,
        generator=torch.Generator().manual_seed(0),
    )
    before = _reward_of(pretrained)
    tuner.train(25)
    assert "step_reward" in tuner.history[-1]
    assert _reward_of(tuner.policy) > before + 0.05


def test_nan_reward_stops_and_keeps_the_last_good_weights(pretrained) -> None:
    calls = {"n": 0}

    def flaky(tokens: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        reward = (tokens == TARGET).float().mean(1)
        return reward if calls["n"] <= 2 else reward * float("nan")

    tuner = RewardTuner(copy.deepcopy(pretrained), flaky, TunerConfig(lr=1e-2),
                        generator=torch.Generator().manual_seed(0))
    tuner.train(2)
    good = copy.deepcopy(tuner.policy.state_dict())
    assert not all(torch.equal(good[k], v) for k, v in pretrained.state_dict().items())
    with pytest.raises(NonFiniteLoss, match="not finite") as stop:
        tuner.train(5)
    assert isinstance(stop.value, GmrlError) and "\n" not in str(stop.value)
    assert tuner.step_count == 2 and stop.value.step == 2
    assert all(torch.equal(good[k], v) for k, v in tuner.policy.state_dict().items())
    assert all(torch.isfinite(p).all() for p in tuner.policy.parameters())


@pytest.mark.parametrize("estimator", ["rloo", "ppo"])
def test_kl_explosion_stops_and_restores_the_pre_step_weights(pretrained, estimator) -> None:
    policy = copy.deepcopy(pretrained)
    initial = copy.deepcopy(policy.state_dict())
    tuner = RewardTuner(
        policy, build_reward("token_frequency", token=TARGET),
        TunerConfig(estimator=estimator, lr=1e-2, kl_limit=1e-4),
        generator=torch.Generator().manual_seed(0),
    )
    with pytest.raises(KLLimitExceeded, match="kl_limit"):
        tuner.train(3)
    assert tuner.step_count == 0
    assert all(torch.equal(initial[k], v) for k, v in policy.state_dict().items())


def test_a_stop_never_overwrites_the_last_good_checkpoint(pretrained, tmp_path) -> None:
    run = RunDir.create(tmp_path, "tune", "recipe: tune\n", quiet=True)
    tuner = RewardTuner(
        copy.deepcopy(pretrained), build_reward("token_frequency", token=TARGET),
        TunerConfig(lr=1e-2, beta=0.0, kl_limit=1.0), generator=torch.Generator().manual_seed(0),
    )
    with pytest.raises(KLLimitExceeded):
        tuner.train(200, run=run, checkpoint_every=1)
    run.close()
    assert tuner.step_count >= 1  # some good steps happened before the KL blew past 1 nat
    step, state = run.load_latest_checkpoint()
    assert step == tuner.step_count
    on_disk = state["tuner"]["policy"]
    assert all(torch.equal(on_disk[k], v) for k, v in tuner.policy.state_dict().items())
    assert [int(r["step"]) for r in run.rows][-1] == tuner.step_count  # bad step not logged


def test_state_dict_round_trip_resumes_identically(pretrained) -> None:
    first, _ = _tune(pretrained, 3, estimator="reinforce", beta=0.1)
    saved = copy.deepcopy(first.state_dict())
    expected = first.step()
    second, _ = _tune(pretrained, 0, estimator="reinforce", beta=0.1)
    second.load_state_dict(saved)
    assert second.step() == pytest.approx(expected)


def test_bad_settings_are_rejected(pretrained) -> None:
    with pytest.raises(ValidationError, match="group_size"):
        TunerConfig(estimator="rloo", group_size=1)
    with pytest.raises(ValidationError, match="multiple"):
        TunerConfig(batch_size=10, group_size=4)
    tuner = RewardTuner(copy.deepcopy(pretrained), lambda t: torch.zeros(len(t), 2))
    with pytest.raises(ValueError, match="reward_fn must return"):
        tuner.step()
    assert issubclass(KLLimitExceeded, TuningStopped)


def test_ctrl_c_stops_after_the_current_step_with_a_checkpoint(pretrained, tmp_path) -> None:
    """Through the one training loop: a Ctrl-C during step 2 checkpoints step 2 and stops; the
    tuner rebuilt from that checkpoint takes the same next step as one that never stopped."""
    from gmrl.core.errors import RunInterrupted

    run = RunDir.create(tmp_path, "tune", "recipe: tune\n", quiet=True)
    tuner, _ = _tune(pretrained, 0, estimator="reinforce")
    pressed = lambda step, metrics: setattr(run, "stop_requested", step == 2)  # noqa: E731
    with pytest.raises(RunInterrupted) as stop:
        tuner.train(10, run=run, callback=pressed, checkpoint_every=5)
    run.close()
    assert stop.value.step == 2 and tuner.step_count == 2
    assert [int(r["step"]) for r in run.rows] == [1, 2]
    step, state = run.load_latest_checkpoint()
    assert step == 2
    expected = tuner.step()
    resumed, _ = _tune(pretrained, 0, estimator="reinforce")
    resumed.load_state_dict(state["tuner"])
    assert resumed.step() == pytest.approx(expected)


def _first_token_shares(model: AutoregressiveModel, n: int = 8000) -> torch.Tensor:
    samples = model.sample(n, generator=torch.Generator().manual_seed(7))
    return torch.bincount(samples[:, 0], minlength=model.vocab_size).float() / n


def test_every_action_reward_pushes_down_a_rare_penalised_token_faster(pretrained) -> None:
    """A penalty on a first token the model seldom emits: sampled, the penalty is rarely seen;
    scored for every action, its exact expected gradient removes that token much sooner."""
    shares = _first_token_shares(pretrained)
    rare = int(torch.where(shares > 0.002, shares, torch.inf).argmin())
    assert float(shares[rare]) < 0.05, shares

    def penalty(tokens: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(tokens.shape)
        out[:, 0] = -5.0 * (tokens[:, 0] == rare).float()
        return out

    def every_action(tokens: torch.Tensor) -> torch.Tensor:
        table = torch.zeros(*tokens.shape, pretrained.vocab_size)
        table[:, 0, rare] = -5.0
        return table

    after = {}
    for exact in (False, True):
        tuner = RewardTuner(
            copy.deepcopy(pretrained), lambda tokens: torch.zeros(len(tokens)),
            TunerConfig(lr=3e-3, beta=0.1, batch_size=16), step_reward_fn=penalty,
            every_action_reward_fn=every_action if exact else None,
            generator=torch.Generator().manual_seed(0),
        )
        tuner.train(10)
        after[exact] = float(_first_token_shares(tuner.policy)[rare])
        if exact:
            assert tuner.history[-1]["every_action_reward"] < 0
    assert after[True] < 0.5 * after[False], (float(shares[rare]), after)
    assert after[True] < 0.5 * float(shares[rare]), (float(shares[rare]), after)


def test_an_every_action_reward_of_zero_changes_nothing(pretrained) -> None:
    def run(every) -> list[float]:
        tuner = RewardTuner(
            copy.deepcopy(pretrained), lambda tokens: torch.zeros(len(tokens)),
            TunerConfig(lr=1e-2, beta=0.1), step_reward_fn=lambda t: (t == TARGET).float(),
            every_action_reward_fn=every, generator=torch.Generator().manual_seed(0),
        )
        tuner.train(3)
        return [p.detach().clone() for p in tuner.policy.parameters()]

    zeros = run(lambda tokens: torch.zeros(*tokens.shape, pretrained.vocab_size))
    plain = run(None)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(zeros, plain, strict=True))


def test_every_action_reward_needs_its_step_reward_and_the_right_shape(pretrained) -> None:
    with pytest.raises(ValueError, match="needs the step_reward_fn"):
        RewardTuner(copy.deepcopy(pretrained), lambda t: torch.zeros(len(t)),
                    every_action_reward_fn=lambda t: torch.zeros(*t.shape, 6))
    tuner = RewardTuner(copy.deepcopy(pretrained), lambda t: torch.zeros(len(t)),
                        step_reward_fn=lambda t: torch.zeros(t.shape),
                        every_action_reward_fn=lambda t: torch.zeros(t.shape))
    with pytest.raises(ValueError, match="must return shape"):
        tuner.step()


def test_collapse_stops_tuning_and_restores_the_last_weights_whose_batch_passed(pretrained):
    tuner = RewardTuner(
        copy.deepcopy(pretrained), build_reward("token_frequency", token=TARGET),
        TunerConfig(lr=1e-2, beta=0.0, min_unique=0.9),
        generator=torch.Generator().manual_seed(1),
    )
    snapshots = []
    with pytest.raises(CollapseDetected, match="distinct sequences") as stop:
        for _ in range(300):
            snapshots.append(copy.deepcopy(tuner.policy.state_dict()))
            tuner.step()
    history = tuner.history
    assert len(history) > 3 and all(row["unique"] >= 0.9 for row in history)
    # the batch after the last recorded step collapsed, so its weights were bad too: the tuner
    # went back to the weights that sampled the last batch that passed
    assert tuner.step_count == len(history) - 1 == stop.value.step
    kept = snapshots[len(history) - 1]
    assert all(torch.equal(v, kept[k]) for k, v in tuner.policy.state_dict().items())
    assert unique_fraction(tuner.policy.sample(64, generator=torch.Generator())) > 0.5


class _Forbid(LogitGuide):
    """Offsets that make one token practically impossible at every position."""

    def __init__(self, token: int, vocab: int) -> None:
        self.token, self.vocab = token, vocab

    def offsets(self, tokens: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(*tokens.shape, self.vocab)
        out[..., self.token] = -30.0
        return out


@pytest.mark.parametrize("estimator", ["rloo", "ppo"])
def test_a_guide_is_part_of_the_tuned_policy(pretrained, estimator) -> None:
    """Sampled batches follow the guide from the first step, and the logged KL is the guided
    policy's (not zero before any update, since the guide moves it off the reference)."""
    tuner = RewardTuner(
        copy.deepcopy(pretrained), build_reward("token_frequency", token=1),
        TunerConfig(lr=1e-2, beta=0.1, estimator=estimator),
        guide=_Forbid(TARGET, pretrained.vocab_size), generator=torch.Generator().manual_seed(0),
    )
    seen = []
    original = tuner._sample

    def spy():
        tokens, mask = original()
        seen.append(tokens)
        return tokens, mask

    tuner._sample = spy
    tuner.train(5)
    assert not any(bool((tokens == TARGET).any()) for tokens in seen)
    assert tuner.history[0]["kl"] > 0.01
    guided = tuner.policy.sample(500, generator=torch.Generator().manual_seed(1),
                                 guide=tuner.guide)
    assert not bool((guided == TARGET).any())
    assert bool((tuner.policy.sample(500, generator=torch.Generator()) == TARGET).any())


def test_guide_offsets_of_the_wrong_shape_are_refused(pretrained) -> None:
    class Wrong(LogitGuide):
        def offsets(self, tokens):
            return torch.zeros(*tokens.shape, 2)

        def next_offsets(self, prefix):
            return torch.zeros(len(prefix), pretrained.vocab_size)

    tuner = RewardTuner(copy.deepcopy(pretrained), lambda t: torch.zeros(len(t)), guide=Wrong())
    with pytest.raises(ValueError, match="guide offsets must have shape"):
        tuner.step()


def test_the_concentration_check_trips_on_a_looping_batch_and_not_on_a_fresh_one(pretrained):
    """The early collapse signal on constructed batches: every sequence different, but most
    built around one phrase, against the reference model's own fresh samples."""
    tuner = RewardTuner(
        copy.deepcopy(pretrained), build_reward("token_frequency", token=TARGET),
        TunerConfig(concentration_factor=2.0, concentration_n=6, concentration_window=1),
        generator=torch.Generator().manual_seed(1),
    )
    assert tuner.reference_share is not None and 0 < tuner.reference_share < 0.4
    fresh = pretrained.sample(64, generator=torch.Generator().manual_seed(5))
    looping = fresh.clone()
    looping[:, 1:7] = torch.tensor([1, 2, 3, 4, 5, 1])  # one 6-gram in every sequence
    snapshot = tuner._snapshot()
    metrics: dict[str, float] = {}
    assert not tuner._concentrated(fresh, snapshot, metrics)
    assert metrics["ngram_share"] < 2.0 * tuner.reference_share
    assert tuner._concentrated(looping, snapshot, metrics)
    assert metrics["ngram_share"] == 1.0


def test_a_concentrating_policy_is_backed_off_then_stopped_after_max_backoffs(pretrained):
    """Each trip restores the weights that sampled the oldest pooled batch, doubles beta (a
    floor from then on) and makes no update; the trip after `max_backoffs` stops tuning."""
    window = 2
    tuner = RewardTuner(
        copy.deepcopy(pretrained), build_reward("token_frequency", token=TARGET),
        TunerConfig(lr=5e-2, beta=0.02, concentration_factor=2.0, concentration_n=4,
                    concentration_window=window, max_backoffs=2),
        generator=torch.Generator().manual_seed(1),
    )
    snapshots, betas = [], []
    with pytest.raises(CollapseDetected, match="after 2 back-offs"):
        for _ in range(300):
            snapshots.append(copy.deepcopy(tuner.policy.state_dict()))
            betas.append(tuner.kl_controller.beta)
            tuner.step()
    history = tuner.history
    backed = [i for i, row in enumerate(history) if row.get("backoff") == 1.0]
    assert len(backed) == 2 and tuner.backoffs == 2
    first = backed[0]
    assert first >= window - 1  # checked only once the pool is full
    assert betas[first + 1] == pytest.approx(2 * betas[first])  # beta doubled...
    assert tuner.beta_floor == pytest.approx(4 * 0.02)  # ...twice, and floored there
    # no update on the back-off step: the weights are those of `window` steps before it
    kept = snapshots[first - window + 1]
    after = snapshots[first + 1]
    assert all(torch.equal(v, kept[k]) for k, v in after.items())
    assert history[first]["ngram_share"] > 2.0 * history[first]["reference_share"]


def test_with_back_offs_on_a_duplicate_backs_off_too_and_the_next_trip_past_the_limit_stops(
    pretrained,
):
    """With `concentration_factor` set, a batch under `min_unique` is one more trip (weights
    restored, beta doubled), not a stop; the trip after `max_backoffs` stops."""
    tuner = RewardTuner(
        copy.deepcopy(pretrained), build_reward("token_frequency", token=TARGET),
        TunerConfig(beta=0.1, min_unique=0.99, concentration_factor=100.0, max_backoffs=1),
        generator=torch.Generator().manual_seed(1),
    )
    fresh = torch.unique(pretrained.sample(512, generator=torch.Generator().manual_seed(5)),
                         dim=0)[:64]
    assert unique_fraction(fresh) == 1.0 and len(fresh) == 64
    twice = fresh.clone()
    twice[1] = twice[0]  # one composition sampled twice
    tuner._sample = lambda *args: (twice, torch.ones(twice.shape))  # type: ignore[method-assign]
    before = copy.deepcopy(tuner.policy.state_dict())
    metrics = tuner.step()
    assert metrics["backoff"] == 1.0 and tuner.backoffs == 1
    assert tuner.kl_controller.beta == pytest.approx(0.2)
    assert all(torch.equal(v, before[k]) for k, v in tuner.policy.state_dict().items())
    with pytest.raises(CollapseDetected, match=r"distinct sequences.*after 1 back-offs"):
        tuner.step()
