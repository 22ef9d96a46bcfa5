"""Generative world models inside the agent: dynamics ensembles, VAE + MDN-RNN, DreamEnv, planners."""
