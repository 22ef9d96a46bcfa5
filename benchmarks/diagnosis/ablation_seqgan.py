"""SeqGAN ablation on the paper's oracle: one variant per process, JSON lines out.

The sweep behind configs/seqgan/fast.yaml and the figures in docs/seqgan.md ("What the sweep
found"): MLE learning-rate schedules and initialisations, then SeqGAN variants (discriminator
width and steps, rollouts, generator steps and learning rate, a mean-reward baseline) started
from the MLE model. Each line of output is one evaluation: NLL_oracle of `--n-eval` samples and
NLL_test on 10,000 held-out oracle sequences. Meant for a GPU (many variants side by side), runs
anywhere:

    python benchmarks/diagnosis/ablation_seqgan.py --name mle_paper_init --init paper --epochs 60
    python benchmarks/diagnosis/ablation_seqgan.py --name d_half --init paper --epochs 20 \
        --rounds 150 --width 0.5 --d-pre 10 --n-neg 5000 --eval-every 10

`benchmarks/results/seqgan_sweep/*.jsonl` holds the runs quoted in the docs, with the commands
in `benchmarks/results/seqgan_sweep/README.md`.
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
from torch import nn

from gmrl.core.device import resolve_device
from gmrl.rl.policy_gradient.losses import policy_gradient_loss
from gmrl.sequence.baselines import build_generator
from gmrl.sequence.data import oracle_path
from gmrl.sequence.discriminator import CNNDiscriminator
from gmrl.sequence.generation import model_nll, sample_sequences
from gmrl.sequence.oracle import OracleLSTM
from gmrl.sequence.seqgan import SeqGAN, rollout_rewards


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", required=True, help="variant name written on every line")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/seqgan_sweep/sweep.jsonl"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--init", choices=["torch", "paper", "embedding"], default="paper",
                   help="torch defaults, N(0, 0.1^2) everywhere, or only the embedding")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--decay", choices=["none", "cos", "lin"], default="none")
    p.add_argument("--temps", default="0.7,0.8,0.9", help="MLE temperatures to score")
    p.add_argument("--rounds", type=int, default=0, help="SeqGAN rounds after MLE (0 = none)")
    p.add_argument("--g-steps", type=int, default=1)
    p.add_argument("--rollouts", type=int, default=8)
    p.add_argument("--adv-lr", type=float, default=0.01)
    p.add_argument("--adv-batch", type=int, default=64)
    p.add_argument("--baseline", choices=["none", "mean"], default="none",
                   help="subtract the batch-mean reward at each position")
    p.add_argument("--width", type=float, default=0.5)
    p.add_argument("--d-pre", type=int, default=10)
    p.add_argument("--d-pre-neg", type=int, default=5000)
    p.add_argument("--d-steps", type=int, default=1)
    p.add_argument("--d-epochs", type=int, default=1)
    p.add_argument("--n-neg", type=int, default=5000)
    p.add_argument("--eval-every", type=int, default=5)
    p.add_argument("--n-eval", type=int, default=10_000)
    return p.parse_args(argv)


def set_lr(optimizer: torch.optim.Optimizer, args: argparse.Namespace, epoch: int) -> None:
    """Constant, cosine or linear decay of the MLE learning rate over `args.epochs`."""
    progress = (epoch - 1) / max(args.epochs, 1)
    scale = {"none": 1.0, "cos": 0.5 * (1 + math.cos(math.pi * progress)),
             "lin": 1.0 - progress}[args.decay]
    for group in optimizer.param_groups:
        group["lr"] = args.lr * scale


def baseline_step(seqgan: SeqGAN, batch: int, generator: torch.Generator) -> None:
    """A SeqGAN generator step with the batch-mean reward subtracted at each position."""
    model = seqgan.generator
    samples = sample_sequences(model, batch, generator)
    rewards = rollout_rewards(seqgan.rollout, samples, seqgan.discriminator.prob_real,
                              seqgan.n_rollouts, generator)
    model.train()
    loss = policy_gradient_loss(model.token_log_probs(samples),
                                rewards - rewards.mean(dim=0, keepdim=True))
    seqgan.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), seqgan.grad_clip)
    seqgan.optimizer.step()
    model.eval()


def main(argv: list[str]) -> None:
    args = parse(argv)
    torch.set_num_threads(1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    device = resolve_device(args.device)

    def emit(**fields: float | str) -> None:
        fields = {"name": args.name, **fields, "t": round(time.perf_counter() - started, 1)}
        with args.out.open("a") as handle:
            handle.write(json.dumps(fields) + "\n")
        print(json.dumps(fields), flush=True)

    torch.manual_seed(args.seed)
    oracle = OracleLSTM.from_npz(oracle_path()).to(device)
    data_gen = torch.Generator().manual_seed(args.seed)
    train = oracle.sample(10_000, data_gen).to(device)
    test = oracle.sample(10_000, data_gen).to(device)
    g = torch.Generator().manual_seed(args.seed + 100)
    init_std = 0.1 if args.init == "paper" else None
    model = build_generator(oracle.vocab_size, oracle.seq_len, lr=args.lr,
                            init_std=init_std).to(device)
    if args.init == "embedding":
        with torch.no_grad():
            model.embedding.weight.normal_(0.0, 0.1)

    def evaluate(temperature: float = 1.0) -> dict[str, float]:
        samples = sample_sequences(model, args.n_eval, g, temperature)
        return {"nll_oracle": oracle.nll(samples),
                "nll_test": model_nll(model, test, temperature)}

    emit(phase="mle", epoch=0, **evaluate())
    for epoch in range(1, args.epochs + 1):
        set_lr(model.optimizers["adam"], args, epoch)
        model.fit(train, epochs=1, batch_size=args.batch_size, generator=g)
        if epoch % args.eval_every == 0 or epoch == args.epochs:
            emit(phase="mle", epoch=epoch, **evaluate())
    for temperature in [float(t) for t in args.temps.split(",") if t]:
        emit(phase="temp", temp=temperature, **evaluate(temperature))
    if args.rounds == 0:
        return
    discriminator = CNNDiscriminator(oracle.vocab_size, oracle.seq_len, 64,
                                     width=args.width).to(device)
    seqgan = SeqGAN(model, discriminator, args.rollouts, 0.8, args.adv_lr, 5.0)
    for _ in range(args.d_pre):
        seqgan.discriminator_step(train, args.d_pre_neg, 1, 64, g)
    emit(phase="dpre", acc=discriminator.accuracy(train[:2000], sample_sequences(model, 2000, g)))
    for round_ in range(1, args.rounds + 1):
        for _ in range(args.g_steps):
            if args.baseline == "mean":
                baseline_step(seqgan, args.adv_batch, g)
            else:
                seqgan.generator_step(args.adv_batch, g)
        seqgan.update_rollout()
        for _ in range(args.d_steps):
            seqgan.discriminator_step(train, args.n_neg, args.d_epochs, 64, g)
        if round_ % args.eval_every == 0 or round_ == args.rounds:
            emit(phase="adv", round=round_, **evaluate())


if __name__ == "__main__":
    main(sys.argv[1:])
