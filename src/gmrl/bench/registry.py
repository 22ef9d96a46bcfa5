"""The benchmarks `gmrl bench all` knows: script, what it compares, quick and full arguments.

Every `benchmarks/*.py` except sweep helpers has one entry (a test keeps this true). Arguments
may hold `{out}`, replaced by the mode's results folder (`benchmarks/results/quick` for quick
runs, so a quick run never overwrites the full results the docs quote). A benchmark without a
script is listed as "not yet available" rather than given numbers.
"""

from dataclasses import dataclass
from pathlib import Path

from gmrl.bench import tables
from gmrl.bench.tables import TableFn

MODES = ("quick", "full")
RESULTS = Path("benchmarks/results")
# scripts in benchmarks/ that are not benchmarks (modules the benchmarks import); analyses of a
# finished run, whose findings docs/BENCHMARKS.md records, live in benchmarks/diagnosis/
HELPERS = frozenset({"suite_envs"})
DIAGNOSIS = Path("benchmarks/diagnosis")


def mode_dir(mode: str, results: Path = RESULTS) -> Path:
    """Where a mode's `bench_all.json`, logs and (quick mode) benchmark outputs go."""
    return results / mode


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: how to run it in each mode, what it writes, how to tabulate it."""

    name: str
    compares: str
    script: str | None  # path from the repository root; None: not yet available
    quick_args: tuple[str, ...] = ()
    full_args: tuple[str, ...] = ()
    quick_json: str | None = None  # may hold {out}; None: the script writes no JSON there
    full_json: str | None = None
    quick_files: tuple[str, ...] = ()  # other outputs (plots) worth listing
    full_files: tuple[str, ...] = ()
    table: TableFn | None = None
    note: str = ""

    @property
    def available(self) -> bool:
        return self.script is not None

    def args(self, mode: str, out: Path) -> list[str]:
        chosen = self.quick_args if mode == "quick" else self.full_args
        return [a.format(out=out) for a in chosen]

    def json_path(self, mode: str, out: Path) -> Path | None:
        chosen = self.quick_json if mode == "quick" else self.full_json
        return Path(chosen.format(out=out)) if chosen else None

    def outputs(self, mode: str, out: Path) -> list[Path]:
        """Every file the benchmark is expected to write in `mode` (JSON first)."""
        main = self.json_path(mode, out)
        files = self.quick_files if mode == "quick" else self.full_files
        return ([main] if main else []) + [Path(f.format(out=out)) for f in files]


BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark(
        "worldmodel", "gmrl world-model agent vs SB3 PPO (CartPole) and SAC (Pendulum): real "
        "env steps to threshold", "benchmarks/worldmodel_vs_sb3.py",
        quick_args=("--quick", "--out", "{out}/worldmodel_vs_sb3.json"),
        full_args=("--seeds", "5"),
        quick_json="{out}/worldmodel_vs_sb3.json",
        full_json="benchmarks/results/worldmodel_vs_sb3.json",
        table=tables.worldmodel),
    Benchmark(
        "worldmodel_suite", "gmrl's default world-model config (everything learned) vs SB3 "
        "PPO/SAC on 10 tasks it was not tuned on: real env steps to threshold",
        "benchmarks/worldmodel_suite.py",
        quick_args=("--quick", "--out", "{out}/worldmodel_suite.json"),
        full_args=("--seeds", "3", "--workers", "2"),
        quick_json="{out}/worldmodel_suite.json",
        full_json="benchmarks/results/worldmodel_suite.json",
        table=tables.worldmodel_suite),
    Benchmark(
        "worldmodel_dmc", "world-model agents v1 and v2 (default configs) vs SB3 SAC on "
        "DeepMind Control tasks (shimmy): returns at 2.5k-100k real steps beside the published "
        "TD-MPC2 / DreamerV3 / SAC numbers", "benchmarks/worldmodel_dmc.py",
        quick_args=("--quick", "--out", "{out}/worldmodel_dmc.json"),
        full_args=("--seeds", "3", "--workers", "2"),
        quick_json="{out}/worldmodel_dmc.json",
        full_json="benchmarks/results/worldmodel_dmc.json",
        table=tables.worldmodel_dmc,
        note="the full protocol is 100k real steps per cell (hours per cell on a CPU); the "
        "recorded rows used --budget 10000"),
    Benchmark(
        "worldmodel_pixels", "World Models (VAE + MDN-RNN, PPO in the dream) on CartPole from "
        "pixels vs a random policy", "benchmarks/worldmodel_pixels.py",
        quick_args=("--quick", "--out", "{out}/worldmodel_pixels.json"),
        full_args=("--seeds", "3", "--workers", "2"),
        quick_json="{out}/worldmodel_pixels.json",
        full_json="benchmarks/results/worldmodel_pixels.json",
        table=tables.worldmodel_pixels),
    Benchmark(
        "synthetic", "SB3 SAC vs UTD-matched SAC vs SAC + synthetic experience vs an untrained "
        "generator vs gmrl dream mode", "benchmarks/synthetic_vs_sac.py",
        quick_args=("--quick", "--out", "{out}/synthetic_vs_sac.json"),
        full_args=("--seeds", "5", "--workers", "2"),
        quick_json="{out}/synthetic_vs_sac.json",
        full_json="benchmarks/results/synthetic_vs_sac.json",
        quick_files=("{out}/synthetic_vs_sac.png",),
        full_files=("benchmarks/results/synthetic_vs_sac.png",),
        table=tables.synthetic_vs_sac),
    Benchmark(
        "synthetic_augmentation", "a dynamics model trained on real transitions alone vs real "
        "plus k x generated ones: held-out error", "benchmarks/synthetic_augmentation.py",
        quick_args=("--quick", "--out", "{out}/synthetic_augmentation.json"),
        full_args=("--seeds", "3"),
        quick_json="{out}/synthetic_augmentation.json",
        full_json="benchmarks/results/synthetic_augmentation.json",
        quick_files=("{out}/synthetic_augmentation.png",),
        full_files=("benchmarks/results/synthetic_augmentation.png",),
        table=tables.synthetic_augmentation),
    Benchmark(
        "seqgan", "gmrl SeqGAN, MLE, scheduled sampling, PG-BLEU on the paper's oracle vs the "
        "paper's Table 1", "benchmarks/seqgan_oracle.py",
        quick_args=("--quick", "--out", "{out}/seqgan_oracle.json"),
        full_args=("--seeds", "4"),
        quick_json="{out}/seqgan_oracle.json",
        full_json="benchmarks/results/seqgan_oracle.json",
        quick_files=("{out}/seqgan_oracle_quality_diversity.png",),
        full_files=("benchmarks/results/seqgan_oracle_quality_diversity.png",),
        table=tables.seqgan,
        note="quick mode uses configs/seqgan/quick.yaml (tiny sizes): not comparable to the "
        "paper"),
    Benchmark(
        "tuner", "KL-regularised reward tuning (RLOO, REINFORCE, PPO-clip; KL weights): reward "
        "beside diversity and held-out NLL", "benchmarks/tuner_kl.py",
        quick_args=("--quick", "--out", "{out}/tuner_kl.json"),
        full_args=("--seeds", "3"),
        quick_json="{out}/tuner_kl.json",
        full_json="benchmarks/results/tuner_kl.json",
        table=tables.tuner_kl,
        note="the reward is hand-written (frequency of one token)"),
    Benchmark(
        "music", "Note-RNN, RL Tuner's Q / Psi / G and gmrl's RLOO tuner vs the paper's "
        "Table 1", "benchmarks/music_rltuner.py",
        quick_args=("--quick", "--out", "{out}/music_rltuner.json"),
        full_args=("--seeds", "3", "--variants", "bach"),
        quick_json="{out}/music_rltuner.json",
        full_json="benchmarks/results/music/rltuner.json",
        table=tables.music),
    Benchmark(
        "generative_zoo", "VAE, GAN, flow, DDPM on 2-D toy data vs untrained models and a "
        "fitted Gaussian", "benchmarks/generative_zoo.py",
        quick_args=("--quick", "--out", "{out}/generative_zoo.json"),
        full_args=("--seeds", "3"),
        quick_json="{out}/generative_zoo.json",
        full_json="benchmarks/results/generative_zoo.json",
        table=tables.generative_zoo),
    Benchmark(
        "rl_zoo", "gmrl REINFORCE and actor-critic vs SB3 PPO and A2C: env steps to solve "
        "CartPole", "benchmarks/rl_policy_gradient.py",
        quick_args=("--quick", "--out", "{out}/rl_policy_gradient.json"),
        full_args=("--seeds", "5", "--budget", "100000"),
        quick_json="{out}/rl_policy_gradient.json",
        full_json="benchmarks/results/rl_policy_gradient.json",
        table=tables.rl_policy_gradient),
)


def by_name(names: list[str] | None = None,
            benchmarks: tuple[Benchmark, ...] = BENCHMARKS) -> list[Benchmark]:
    """The benchmarks named (all when `names` is empty), in registry order.

    Raises ValueError naming the unknown ones and the known names.
    """
    if not names:
        return list(benchmarks)
    known = {b.name for b in benchmarks}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown benchmark {', '.join(repr(n) for n in unknown)} "
                         f"(have: {', '.join(b.name for b in benchmarks)})")
    return [b for b in benchmarks if b.name in names]


def command_line(bench: Benchmark, mode: str, out: Path) -> str:
    """The command a user would type to run `bench` alone in `mode`."""
    if bench.script is None:
        return "not yet available"
    return " ".join(["python", bench.script, *bench.args(mode, out)])
