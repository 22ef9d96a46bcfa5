"""The RL algorithm zoo: tabular, dynamic programming, MCTS, policy gradient, and SB3 agents."""

ALGORITHMS: dict[str, str] = {
    "q_learning": "tabular, off-policy TD control",
    "sarsa": "tabular, on-policy TD control",
    "value_iteration": "dynamic programming on a known model (env.P)",
    "policy_iteration": "dynamic programming on a known model (env.P)",
    "mcts": "UCT/PUCT tree search over a batched functional model (true simulator or world model)",
    "reinforce": "policy gradient with a learned baseline (gmrl)",
    "actor_critic": "advantage actor-critic (gmrl)",
    "ppo": "Stable-Baselines3 PPO",
    "a2c": "Stable-Baselines3 A2C",
    "dqn": "Stable-Baselines3 DQN (discrete actions)",
    "sac": "Stable-Baselines3 SAC (continuous actions)",
    "td3": "Stable-Baselines3 TD3 (continuous actions)",
}
