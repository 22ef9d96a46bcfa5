"""`gmrl sweep`: a grid of overrides × seeds of one recipe config, run on Ray Tune.

Every trial config is built and validated before Ray starts (a bad key or value is one line,
exit 2, nothing written); the sweep directory then records its spec (`sweep.yaml`), the trials'
run directories, Ray Tune's own records (`tune/`) and the gathered results.
"""

import contextlib
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer
from rich.console import Console
from rich.table import Table

from gmrl.core.errors import ConfigError, GmrlError, describe_os_error
from gmrl.sweep.gather import Row, choose_metric, gather, write_results
from gmrl.sweep.grid import parse_grid
from gmrl.sweep.spec import (
    create_sweep_dir,
    make_spec,
    read_spec,
    sweep_lock,
    validate,
    write_spec,
)

_console = Console(stderr=True)


def _fail(message: str, code: int = 2) -> NoReturn:
    from rich.markup import escape

    _console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _say(message: str) -> None:
    _console.print(message, highlight=False, soft_wrap=True, markup=False)


def sweep_command(
    config: Annotated[
        Optional[Path],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Argument(help="The recipe's YAML config (as for gmrl run)."),
    ] = None,
    overrides: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Argument(help="key=value overrides applied to every trial, e.g. epochs=20."),
    ] = None,
    grid: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--grid", "-g", help="key=v1,v2: values to sweep (repeat for more keys)."),
    ] = None,
    seeds: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--seeds", min=1, help="Seeds per grid point: seed=0..N-1 (default 1)."),
    ] = None,
    search: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--search", help="grid (every point) or optuna (--trials points) "
                     " (default grid)."),
    ] = None,
    trials: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--trials", min=1, help="Points an optuna search runs (default 10)."),
    ] = None,
    metric: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--metric", help="summary.json figure to search on and plot "
                     "(default plot: the first figure that differs between points)."),
    ] = None,
    mode: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--mode", help="max or min: which way --metric is better (a search needs "
                     "it; the table then names the best point)."),
    ] = None,
    cpus_per_trial: Annotated[
        float, typer.Option("--cpus-per-trial", min=0, help="CPUs Ray reserves per trial.")
    ] = 1.0,
    gpus_per_trial: Annotated[
        float, typer.Option("--gpus-per-trial", min=0, help="GPUs Ray reserves per trial.")
    ] = 0.0,
    max_concurrent: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--max-concurrent", min=1, help="Most trials at once (default as "
                     "resources allow)."),
    ] = None,
    address: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--address", help="Join a Ray cluster (ray://HOST:PORT or auto) instead "
                     "of starting a local Ray."),
    ] = None,
    num_cpus: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--num-cpus", min=1, help="CPUs of the local Ray (default all)."),
    ] = None,
    resume: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--resume", help="Continue an interrupted sweep directory."),
    ] = None,
    runs_root: Annotated[
        Path, typer.Option("--runs", help="Where the sweep directory goes.")
    ] = Path("runs"),
    check: Annotated[
        bool, typer.Option("--check", help="Validate every trial config; run nothing.")
    ] = False,
) -> None:
    """Run a recipe config over a grid of overrides and seeds on Ray Tune, then tabulate.

    Examples:

      gmrl sweep configs/generative/moons_flow.yaml --grid model.name=flow,vae --seeds 3

      gmrl sweep configs/rl/cartpole.yaml --grid params.gamma=0.98,0.99
      --grid params.ent_coef=0.0,0.01 --search optuna --trials 3
      --metric final_mean_return --mode max

      gmrl sweep --resume runs/sweep-generative-20261201-120000

      gmrl sweep --resume runs/sweep-rl-20261201-120000 --trials 10   # extend a search
    """
    from gmrl.sweep.runner import (
        Outcome,
        Resources,
        launch,
        ray_session,
        require_ray,
        work_left,
    )

    resources = Resources(cpus_per_trial, gpus_per_trial, max_concurrent, address, num_cpus)
    sweep_dir: Path | None = None
    try:
        if address is not None and num_cpus is not None:
            raise ConfigError("--num-cpus sizes a local Ray; a cluster at --address has its own")
        if resume is not None:
            given = [name for name, value in (("CONFIG", config), ("--grid", grid),
                     ("--seeds", seeds), ("--search", search)) if value]
            if given:
                raise ConfigError(
                    f"--resume continues the sweep as it was recorded: drop {', '.join(given)}"
                )
            sweep_dir = resume
            spec = read_spec(sweep_dir)
            if spec.search == "grid" and trials:
                raise ConfigError("--trials is for --search optuna; a grid runs every point")
            if spec.search != "grid" and (metric or mode):
                raise ConfigError("--resume cannot change a search's --metric or --mode")
            changes = {"metric": metric or spec.metric, "mode": mode or spec.mode,
                       "trials": trials or spec.trials}  # a search may be extended
            spec = spec.model_copy(update=changes)
        else:
            if config is None:
                raise ConfigError("name a recipe config: gmrl sweep CONFIG --grid key=v1,v2")
            if mode not in (None, "max", "min"):
                raise ConfigError(f"--mode '{mode}' must be max or min")
            if search not in (None, "grid", "optuna"):
                raise ConfigError(f"--search '{search}' must be grid or optuna")
            spec = make_spec(
                config, list(overrides or []), grid=parse_grid(grid or []), seeds=seeds or 1,
                search=search or "grid", trials=trials or 10, metric=metric, mode=mode,
            )
            if spec.search == "optuna" and not spec.grid:
                raise ConfigError("--search optuna needs a --grid key=v1,v2 to choose from")
            if spec.search == "optuna" and (spec.metric is None or spec.mode is None):
                raise ConfigError("--search optuna needs --metric NAME (a summary.json figure) "
                                  "and --mode max|min")
        points = validate(spec)  # every trial config, before Ray starts
        total = points * spec.seeds if spec.search == "grid" else spec.trials * spec.seeds
        if check:
            searched = f", {spec.trials} of them searched" if spec.search != "grid" else ""
            typer.echo(f"sweep OK: recipe {spec.recipe}, {points} points{searched} x "
                       f"{spec.seeds} seeds ({total} runs); nothing was run")
            return
        require_ray(spec.search)
        with contextlib.ExitStack() as stack:
            if sweep_dir is not None:  # resuming: refuse a second process before anything
                stack.enter_context(sweep_lock(sweep_dir))
            needs_ray = sweep_dir is None or work_left(sweep_dir, spec) > 0
            if needs_ray:  # started before a new sweep directory is made: a refusal writes nothing
                stack.enter_context(ray_session(resources))
            if sweep_dir is None:
                sweep_dir = create_sweep_dir(runs_root, spec.recipe)
                stack.enter_context(sweep_lock(sweep_dir))
            write_spec(sweep_dir, spec)
            _say(f"gmrl sweep {spec.recipe}: {total} runs -> {sweep_dir}")
            # a finished sweep only gathers again (e.g. for another --metric), without Ray
            outcome = launch(sweep_dir, spec, resources) if needs_ray else Outcome(total)
            rows = gather(sweep_dir, spec)
            try:
                chosen = choose_metric(rows, spec.metric)
            except ConfigError as exc:
                _say(f"warning: {exc}")
                chosen = choose_metric(rows, None)
            written = write_results(sweep_dir, spec, rows, chosen)
    except KeyboardInterrupt:
        where = f"gmrl sweep --resume {sweep_dir}" if sweep_dir is not None else "gmrl sweep"
        _fail(f"aborted: finished trials are kept; continue with: {where}", 130)
    except GmrlError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(describe_os_error(exc, "writing the sweep"), 1)
    _print_table(rows, chosen)
    typer.echo(f"results: {written[2]} (and results.csv, results.json"
               f"{', ' + str(written[3].relative_to(sweep_dir)) if len(written) > 3 else ''})")
    for name, message in outcome.failed.items():  # a TrialFailed line names its trial already
        _say(f"failed: {message if message.startswith(name) else f'{name}: {message}'}")
    if outcome.failed:
        _fail(f"{len(outcome.failed)} trial(s) failed; fix the cause and continue with: "
              f"gmrl sweep --resume {sweep_dir}", 1)
    if outcome.unfinished:
        _fail(f"interrupted: {outcome.unfinished} trial(s) not finished; continue with: "
              f"gmrl sweep --resume {sweep_dir}", 130)


def _print_table(rows: list[Row], metric: str | None) -> None:
    """The gathered table on stdout: one row per point, the chosen metric's mean ± std."""
    if not rows:
        typer.echo("no trial has finished yet")
        return
    table = Table(title=f"sweep results ({metric or 'no figures'}: mean ± std over seeds)")
    for column in ("point", "n", metric or ""):
        table.add_column(column)
    for row in rows:
        stat = row.figures.get(metric) if metric else None
        cell = "—" if stat is None else f"{stat.mean:.4g}" + (
            f" ± {stat.std:.2g}" if stat.std is not None else "")
        table.add_row(row.point.label, str(row.n), cell)
    Console().print(table)
