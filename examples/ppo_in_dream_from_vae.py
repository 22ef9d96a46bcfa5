"""PPO trained inside a learned world model whose episodes start from VAE-generated states.

The second form that runs of "a VAE trained on observations, used by PPO" (docs/synthetic.md):
PPO is on-policy, so generated data can only reach it as an *environment* it acts in. Here
1. a random policy collects real CartPole-v1 transitions;
2. gmrl's world model (the Gaussian ensemble of the worldmodel recipe) learns the dynamics from
   them, and a VAE learns the distribution of the observed states;
3. SB3 PPO trains in `DreamVecEnv`, the world model as an environment, each imagined episode
   starting from a state *sampled from the VAE* (a start-state sampler `(n, rng) -> states`);
4. the PPO policy is evaluated on the real CartPole-v1 and compared to a random policy.

Knowledge used beyond the data: CartPole's reward (+1 per step) and termination rule (cart
beyond 2.4 or pole beyond 12 degrees) in closed form, `gmrl.worldmodel.known_fns` (the PETS
convention); the ensemble learns the dynamics only. One round of random data, no refits: a
demonstration of the mechanics, not the world-model agent of `gmrl run
configs/worldmodel/cartpole.yaml` (which alternates real data, model fits and policy updates).

    python examples/ppo_in_dream_from_vae.py                 # about a CPU-minute
    python examples/ppo_in_dream_from_vae.py --steps 500 --dream-steps 20000
"""

import argparse

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from gmrl.generative import build_model
from gmrl.rl.transitions import random_transitions
from gmrl.worldmodel import known_fns
from gmrl.worldmodel.dream_env import DreamVecEnv
from gmrl.worldmodel.ensemble import EnsembleConfig, GaussianEnsemble

ENV = "CartPole-v1"


def random_policy_return(episodes: int, seed: int) -> float:
    """Mean return of uniformly random actions in the real environment."""
    env, returns = gym.make(ENV), []
    env.action_space.seed(seed)
    for episode in range(episodes):
        env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total, done = total + float(reward), terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="real random-policy steps")
    parser.add_argument("--dream-steps", type=int, default=60_000, help="PPO steps in the dream")
    parser.add_argument("--horizon", type=int, default=100, help="imagined steps per episode")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    env = gym.make(ENV)

    # 1. real data from a random policy
    data = random_transitions(env, args.steps, seed=args.seed)

    # 2. the world model (dynamics learned; reward and termination known) and the state VAE
    world = GaussianEnsemble.from_spaces(
        env.observation_space, env.action_space, config=EnsembleConfig(hidden=64),
        reward_fn=known_fns.cartpole_reward, termination_fn=known_fns.cartpole_termination,
    )
    fit = world.fit(data, generator=torch.Generator().manual_seed(args.seed))
    vae = build_model("vae", data_dim=4, latent_dim=4, hidden=64)
    vae.fit(data["obs"], epochs=100, batch_size=128,
            generator=torch.Generator().manual_seed(args.seed))

    def vae_states(n: int, rng: np.random.Generator) -> np.ndarray:
        """The start-state sampler DreamVecEnv calls: `n` states drawn from the VAE."""
        draw = torch.Generator().manual_seed(int(rng.integers(2**31)))
        return vae.sample(n, generator=draw).numpy()

    # 3. PPO in the dream, episodes starting from VAE samples
    dream = DreamVecEnv(world, vae_states, env.observation_space, env.action_space,
                        num_envs=16, horizon=args.horizon, seed=args.seed)
    agent = PPO("MlpPolicy", dream, n_steps=128, batch_size=256, seed=args.seed)
    agent.learn(args.dream_steps)

    # 4. evaluation on the real environment
    mean, _ = evaluate_policy(agent, make_vec_env(ENV, seed=args.seed + 1000), n_eval_episodes=10)
    print(f"world model: held-out next-state MSE {fit['val_next_obs_mse']:.2e}; "
          f"{args.dream_steps} PPO steps in the dream from VAE states")
    print(f"real {ENV} return (10 episodes): PPO trained in the dream {mean:.1f}, "
          f"random policy {random_policy_return(10, args.seed + 1000):.1f}")


if __name__ == "__main__":
    main()
