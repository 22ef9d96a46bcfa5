"""Synthetic experience for an off-policy agent, the form that runs (docs/synthetic.md).

A VAE or a diffusion model learns whole *transitions* (state, action, reward, next state,
terminated) from the replay buffer, and its samples fill half of every SAC minibatch. This is
what "train a VAE, then add its samples to the agent's replay buffer" has to mean: only an
off-policy agent (SAC, TD3, DQN) has a replay buffer, and only whole transitions can go in it.

    python examples/synthetic_sac.py                      # diffusion, 1500 real steps, ~2-3 min
    python examples/synthetic_sac.py --generator vae
    python examples/synthetic_sac.py --ratio 0            # the same agent on real data only

No knowledge of the task beyond the Gymnasium env: the generator learns the reward with the rest
of the transition. A short run shows the mechanics, not a converged agent; the measured comparison
is `gmrl run configs/synthetic/pendulum.yaml` and its ablations.
"""

import argparse

import gymnasium as gym
import torch
from stable_baselines3 import SAC
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from gmrl.synthetic import SyntheticReplayBuffer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500, help="real environment steps")
    parser.add_argument("--generator", choices=["diffusion", "vae"], default="diffusion")
    parser.add_argument("--ratio", type=float, default=0.5, help="synthetic share of a batch")
    parser.add_argument("--generator-steps", type=int, default=1000,
                        help="generator gradient steps per refit (twice as many the first time)")
    parser.add_argument("--eval-episodes", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)

    refit_every = max(args.steps // 3, 50)  # three refits per run, the first a third of the way
    model = SAC(
        "MlpPolicy", gym.make("Pendulum-v1"), learning_rate=1e-3, gradient_steps=4, seed=args.seed,
        replay_buffer_class=SyntheticReplayBuffer,
        replay_buffer_kwargs={
            "ratio": args.ratio, "refit_every": refit_every, "min_real": refit_every,
            "pool_size": 10_000, "seed": args.seed,
            "generator": {"name": args.generator, "fit_steps": args.generator_steps,
                          "first_fit_steps": 2 * args.generator_steps},
        },
    )
    model.learn(args.steps)

    episodes = args.eval_episodes
    eval_env = make_vec_env("Pendulum-v1", seed=args.seed + 1000)  # seeded: repeatable returns
    mean, std = evaluate_policy(model, eval_env, n_eval_episodes=episodes)
    buffer = model.replay_buffer
    assert isinstance(buffer, SyntheticReplayBuffer)
    print(f"eval return ({episodes} episodes, after {args.steps} real steps): "
          f"{mean:.1f} +- {std:.1f}")
    print("synthetic buffer:", {key: round(value, 3) for key, value in buffer.summary().items()})


if __name__ == "__main__":
    main()
