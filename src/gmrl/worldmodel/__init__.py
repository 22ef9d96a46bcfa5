"""Generative world models inside the agent: ensembles, VAE + MDN-RNN, DreamEnv, planners."""
