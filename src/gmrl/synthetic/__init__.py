"""Generative models producing synthetic experience for RL agents."""
