"""RL that trains generative models: SeqGAN on the paper's oracle, KL-regularised reward tuning."""
