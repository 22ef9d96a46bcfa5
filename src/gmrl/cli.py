"""The `gmrl` command line: run recipes from YAML configs, list what is available, benchmark."""

import contextlib
import runpy
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
import typer.core
from rich.console import Console
from rich.table import Table

import gmrl
from gmrl.core.checkpoint import atomic_write_text
from gmrl.core.config import (
    RecipeConfig,
    apply_overrides,
    dump_config,
    load_config,
    read_yaml_mapping,
)
from gmrl.core.errors import (
    ConfigError,
    EnvStepError,
    GmrlError,
    RunInterrupted,
    describe_os_error,
)
from gmrl.core.rundir import RunDir, remove_if_unused
from gmrl.core.shipped import config_names, resolve_config
from gmrl.music.cli import app as music_app
from gmrl.recipes import load_recipe, recipe_names
from gmrl.report.cli import report as report_command
from gmrl.rl.guard import env_error_policy
from gmrl.sweep.cli import sweep_command

DEFAULT_CONFIG = "quickstart"  # a shipped config's name: works from any directory
STARTERS = {  # gmrl init RECIPE: the shipped config its starter is written from
    "worldmodel": "worldmodel/default", "rl": "rl/cartpole", "generative": "generative/moons_flow",
    "synthetic": "synthetic/pendulum", "music": "music/pretrain", "seqgan": "seqgan/quick",
    "tdmpc": "worldmodel/v2_quickstart",
}

app = typer.Typer(
    name="gmrl",
    help="Generative models meet reinforcement learning.\n\n"
    "Examples:\n\n"
    "  gmrl run                                  # the quickstart job\n\n"
    "  gmrl init worldmodel                      # a commented gmrl.yaml and myenv.py\n\n"
    "  gmrl run worldmodel/default --quick       # a shipped config by name, a short run\n\n"
    "  gmrl run configs/generative/moons_flow.yaml model.name=vae epochs=20\n\n"
    "  gmrl run --resume runs/generative-20261125-120000\n\n"
    "  gmrl list",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(music_app, name="music")
app.command("report")(report_command)
app.command("sweep")(sweep_command)
console = Console(stderr=True)


def _type_column(original: Any) -> Any:
    """Typer's help type column, without `<bool>` on flags (they take no value) and with a
    parameter's own metavar (CONFIG, RUN_DIR...) in place of `<str>` or `<path>`."""

    def display(self: Any, ctx: Any) -> str | None:
        if getattr(self, "is_flag", False):
            return None
        if self.metavar:
            return None if isinstance(self, typer.core.TyperArgument) else str(self.metavar)
        return str(original(self, ctx))

    return display


for _param in (typer.core.TyperOption, typer.core.TyperArgument):
    _param.display_type_rich = _type_column(_param.display_type_rich)  # type: ignore[method-assign]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gmrl {gmrl.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        Optional[bool],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = None,
) -> None:
    """Generative models meet reinforcement learning."""


def _fail(message: str, code: int = 2) -> None:
    from rich.markup import escape  # messages may hold [brackets] (pip extras, paths)

    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _config_class(name: str) -> type[RecipeConfig]:
    config_class: type[RecipeConfig] = load_recipe(name).Config
    return config_class


@app.command()
def run(
    config: Annotated[
        Optional[str],  # noqa: UP045
        typer.Argument(
            metavar="[CONFIG]",
            help="A shipped config's name (worldmodel/default; gmrl list shows them) or a YAML "
            "file. Default: quickstart.",
            show_default=False,
        ),
    ] = None,
    overrides: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Argument(
            metavar="[KEY=VALUE]...",
            help="Dotted overrides, e.g. seed=3 model.hidden=64 env.id=myenv:MyEnv.",
            show_default=False,
        ),
    ] = None,
    resume: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--resume",
            metavar="RUN_DIR",
            help="Continue an interrupted run directory from its last checkpoint "
            "(key=value overrides are recorded in its config.yaml).",
            show_default=False,
        ),
    ] = None,
    runs_root: Annotated[
        Path, typer.Option("--runs", metavar="FOLDER", help="Where run directories go.")
    ] = Path("runs"),
    quick: Annotated[
        bool,
        typer.Option("--quick", help="A short run (about a minute on a CPU) of the same config: "
                     "to try a config or an env, not to measure."),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    check: Annotated[
        bool,
        typer.Option("--check", help="Validate the config and the recipe's checks; run nothing."),
    ] = False,
) -> None:
    """Run a recipe from a YAML config.

    Examples:

      gmrl run                                    # the shipped quickstart config

      gmrl run worldmodel/default env.id=Acrobot-v1 --quick

      gmrl run configs/generative/moons_flow.yaml model.name=vae epochs=20

      gmrl run configs/rl/cartpole.yaml --check   # validate only

      gmrl run --resume runs/generative-20261125-120000 epochs=80
    """
    items = ([config] if config else []) + list(overrides or [])
    if items and "=" in items[0] and not items[0].endswith((".yaml", ".yml")):
        config_name, override_list = None, items
    else:
        config_name, override_list = (items[0] if items else None), items[1:]
    run_dir: RunDir | None = None
    try:
        if resume is not None:
            if config_name is not None:
                raise GmrlError(
                    "--resume takes the run directory's own config; drop the CONFIG argument"
                )
            if quick:
                raise GmrlError("--resume continues a run as it was configured; drop --quick")
            run_dir = RunDir.open_existing(resume, quiet=quiet)  # locked: one process per run
            resolved = _resume_config(run_dir, override_list)
        else:
            config_path = resolve_config(config_name or DEFAULT_CONFIG)
            if quick:
                resolved = _quick(config_path, override_list)
            else:
                resolved = load_config(config_path, override_list, _config_class)
        recipe = load_recipe(resolved.recipe)
        prepare = getattr(recipe, "prepare", None)
        if prepare is not None:  # recipe-level checks (env ids, model params) before any writing
            prepare(resolved)
        if check:
            typer.echo(f"config OK: recipe {resolved.recipe} (nothing was run)")
            return
        if run_dir is None:
            run_dir = RunDir.create(runs_root, resolved.recipe, dump_config(resolved), quiet=quiet)
        if not quiet:
            console.print(
                f"[bold]gmrl[/] {resolved.recipe} → {run_dir.path}", highlight=False, soft_wrap=True
            )
        with run_dir.interrupt_guard(), env_error_policy(
            resolved.on_env_error, resolved.max_env_errors
        ) as env_errors:
            summary = recipe.run(resolved, run_dir)
        if env_errors.count:
            summary = {**summary, "env_errors_reset": float(env_errors.count)}
        run_dir.commit_config()  # for recipes that resume without TrainingLoop.resume()
        run_dir.write_summary(summary)
    except RunInterrupted as stop:
        assert run_dir is not None
        with contextlib.suppress(OSError):  # config.yaml then stays as it was
            run_dir.commit_config()
        by = f" by {run_dir.stop_signal}" if run_dir.stop_signal not in (None, "SIGINT") else ""
        with contextlib.suppress(OSError, ValueError):  # SIGHUP: the terminal may be gone
            console.print(
                f"interrupted{by}: checkpoint saved at step {stop.step}; "
                f"continue with: gmrl run --resume {run_dir.path}",
                highlight=False,
                soft_wrap=True,
            )
        raise typer.Exit(130) from None
    except KeyboardInterrupt:
        where = f"gmrl run --resume {run_dir.path}" if run_dir is not None else "gmrl run"
        _fail(f"aborted: the last checkpoint is kept; continue with: {where}", 130)
    except EnvStepError as exc:
        assert run_dir is not None
        _fail(_env_failure(exc, run_dir), 1)
    except GmrlError as exc:
        if run_dir is not None and resume is None:  # refused after the folder was made
            with contextlib.suppress(OSError):
                run_dir.close()
            remove_if_unused(run_dir.path)
        _fail(str(exc))
    except OSError as exc:  # disk full, read-only folder... mid-run: atomic writes kept the rest
        kept = (
            f"; the last checkpoint is intact: continue with gmrl run --resume {run_dir.path}"
            if run_dir is not None
            else ""
        )
        _fail(describe_os_error(exc, "writing") + kept, 1)
    finally:
        if run_dir is not None:
            with contextlib.suppress(OSError):
                run_dir.close()
    assert run_dir is not None
    table = Table(title=f"{resolved.recipe} summary", show_header=False)
    for key, value in summary.items():
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    Console().print(table)
    typer.echo(f"run directory: {run_dir.path}")


def _quick(config_path: Path, overrides: list[str]) -> RecipeConfig:
    """The config with its recipe's quick profile applied, then the user's overrides (they win).

    The profile is computed from the config with the overrides (an override may pick another
    algorithm), or without them where they only fit the quick budget (total_steps=200).
    """
    try:
        base = load_config(config_path, overrides, _config_class)
    except ConfigError:
        base = load_config(config_path, [], _config_class)
    profile = getattr(load_recipe(base.recipe), "quick_overrides", None)
    if profile is None:
        raise ConfigError(
            f"recipe '{base.recipe}' has no --quick profile: lower its budget keys instead "
            "(e.g. total_steps=... or epochs=...)"
        )
    return load_config(config_path, [*profile(base), *overrides], _config_class)


def _env_failure(error: EnvStepError, run_dir: RunDir) -> str:
    """The one line for an env that failed mid-run: the fault, where the traceback is, what was
    saved and the command that continues the run."""
    try:
        log = f" (full traceback: {run_dir.write_error_log(error)})"
    except OSError:
        log = ""
    if error.checkpoint_step is None:
        return f"{error}{log}; nothing was checkpointed yet: fix the env, then start again"
    return (f"{error}{log}; what was learned is saved at step {error.checkpoint_step}: fix the "
            f"env, then continue with: gmrl run --resume {run_dir.path}")


def _resume_config(run_dir: RunDir, overrides: list[str]) -> RecipeConfig:
    """The run's config with `overrides` applied and validated, staged for config.yaml.

    A config.yaml edited by hand since gmrl wrote it is refused (the change must come as an
    override). Changing the recipe is refused up front; other overrides are written into
    config.yaml (and listed in run.json) by
    `RunDir.commit_config` only once the checkpoint restored fine (an override that changes the
    architecture fails that restore with one line and leaves config.yaml as it was).
    """
    file = run_dir.path / "config.yaml"
    original = load_config(file, [], _config_class)
    run_dir.check_config_unchanged(dump_config(original))  # edits go in as overrides
    wanted = apply_overrides(read_yaml_mapping(file), overrides).get("recipe")
    if wanted != original.recipe:
        raise ConfigError(
            f"--resume cannot change the recipe of '{run_dir.path}' ({original.recipe} -> "
            f"{wanted}): start a new run with gmrl run CONFIG"
        )
    resolved = load_config(file, overrides, _config_class)
    if dump_config(resolved) != dump_config(original):
        run_dir.pending_config = dump_config(resolved)
        run_dir.pending_overrides = list(overrides)
    return resolved


@app.command("list")
def list_things() -> None:
    """List shipped configs, recipes, generative models, RL algorithms and agents."""
    import gmrl
    from gmrl.generative import MODEL_REGISTRY
    from gmrl.rl import ALGORITHMS

    out = Console()
    shipped = Table(title="shipped configs (gmrl run NAME, from any directory)")
    shipped.add_column("name")
    shipped.add_column("recipe")
    for name in config_names():
        shipped.add_row(name, _recipe_of(name))
    out.print(shipped)
    table = Table(title="recipes (gmrl init RECIPE writes a starter config)")
    table.add_column("recipe")
    table.add_column("what it does")
    for name in recipe_names():
        try:
            summary = getattr(load_recipe(name), "SUMMARY", "")
        except GmrlError as exc:
            summary = f"(unavailable: {exc})"
        table.add_row(name, summary)
    out.print(table)
    models = Table(title="generative models (model=...)")
    models.add_column("name")
    models.add_column("family")
    for name, (_, family) in MODEL_REGISTRY.items():
        models.add_row(name, family)
    out.print(models)
    algos = Table(title="RL algorithms (algo=...)")
    algos.add_column("name")
    algos.add_column("kind")
    for name, kind in ALGORITHMS.items():
        algos.add_row(name, kind)
    out.print(algos)
    agents = Table(title="agents (gmrl.make_agent({'agent': NAME, ...}, env), gmrl.load)")
    agents.add_column("name")
    agents.add_column("class")
    for name, path in gmrl.AGENT_CLASSES.items():
        module, _, cls = path.partition(":")
        agents.add_row(name, f"{cls} ({module})")
    agents.add_row(", ".join(gmrl.SB3_ALIASES), "SB3Agent with that algo")
    out.print(agents)


def _recipe_of(name: str) -> str:
    """The recipe a shipped config names ('' when unreadable)."""
    try:
        recipe = read_yaml_mapping(resolve_config(name)).get("recipe")
    except GmrlError:
        return ""
    return recipe if isinstance(recipe, str) else ""


@app.command()
def init(
    recipe: Annotated[
        str, typer.Argument(help=f"The recipe to start from: {', '.join(STARTERS)}.")
    ] = "worldmodel",
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="FILE", help="The starter config to write.")
    ] = Path("gmrl.yaml"),
    force: Annotated[
        bool, typer.Option("--force", help="Replace files that already exist.")
    ] = False,
) -> None:
    """Write a commented starter config and a skeleton of your own env (myenv.py).

    Examples:

      gmrl init worldmodel && gmrl run gmrl.yaml --quick

      gmrl run gmrl.yaml env.id=myenv:MyEnv       # train on the skeleton env, then edit it
    """
    from gmrl.core.starter import ENV_SKELETON, commented_yaml

    try:
        if recipe not in STARTERS:
            import difflib

            close = difflib.get_close_matches(recipe, list(STARTERS), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"no starter for recipe '{recipe}'{hint} "
                              f"(available: {', '.join(STARTERS)})")
        source = STARTERS[recipe]
        config = load_config(resolve_config(source), [], _config_class)
        env_file = output.parent / "myenv.py"
        with_env = recipe in ("worldmodel", "rl", "synthetic", "tdmpc")
        env_key = None  # where the recipe takes an env: env.id (world models) or env
        if with_env:
            env_key = "env.id" if hasattr(getattr(config, "env", None), "id") else "env"
        writes = [(output, _starter_header(source, output, env_key) + commented_yaml(config)
                   + "\n")]
        if with_env and not env_file.exists():
            writes.append((env_file, ENV_SKELETON))
        existing = [str(path) for path, _ in writes if path.exists()]
        if existing and not force:
            raise ConfigError(f"'{existing[0]}' already exists: nothing was written; "
                              "pass --force to replace it, or -o FILE to write elsewhere")
        for path, text in writes:
            atomic_write_text(path, text)
            typer.echo(f"wrote {path}")
    except GmrlError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(describe_os_error(exc, "writing the starter"), 1)
    typer.echo(f"next: gmrl run {output} --quick")


def _starter_header(source: str, output: Path, env_key: str | None) -> str:
    """The starter's opening comment; `env_key` is where the recipe takes an env (`env.id` for
    the world-model recipes, `env` for rl and synthetic), None for recipes without one."""
    own_env = (f"# Your own env: {env_key}=myenv:MyEnv (myenv.py beside this file is a skeleton "
               "to edit)\n" if env_key else "")
    return (
        f"# A starter config, written by gmrl init from the shipped config '{source}'.\n"
        f"# Run it: gmrl run {output}   (a short try first: gmrl run {output} --quick)\n"
        f"# Any key can be overridden on the command line: gmrl run {output} seed=3\n"
        f"{own_env}\n"
    )


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def bench(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Benchmark name, e.g. worldmodel, or all.")],
) -> None:
    """Run a benchmark script from benchmarks/ (extra arguments are passed through).

    Examples:

      gmrl bench worldmodel --seeds 5

      gmrl bench seqgan --quick

      gmrl bench all --list         # all [--quick | --full] [--only NAME] [--update-docs]
    """
    if name == "all":
        from gmrl.bench.cli import main as bench_all

        bench_all(ctx.args)
        return
    folder = Path("benchmarks")
    matches = sorted(folder.glob(f"{name}*.py")) if folder.is_dir() else []
    # an exact name wins, then the side-by-side `<name>_vs_<peer>.py` over other `<name>*` ones
    matches.sort(key=lambda p: (p.stem != name, not p.stem.startswith(f"{name}_vs_"), p.name))
    if not matches:
        available = sorted(p.stem for p in folder.glob("*.py")) if folder.is_dir() else []
        _fail(
            f"no benchmark '{name}' in {folder.resolve()}: run from the repository root "
            f"(available: {', '.join(available) or 'none'})"
        )
    script = matches[0]
    sys.argv = [str(script), *ctx.args]
    runpy.run_path(str(script), run_name="__main__")


def validate_only(config_path: Path, overrides: list[str]) -> RecipeConfig:
    """Load and validate a config exactly as `gmrl run` would, without running anything."""
    return load_config(config_path, overrides, _config_class)


if __name__ == "__main__":  # pragma: no cover
    app()
