"""``dance benchmark``: a grid of ``dance run`` cells (resumable, on Dask), and ``dance benchmark report``.

This module is imported when the ``dance`` command starts: it imports Typer only; the grid
machinery (pydantic models, Dask, pandas, matplotlib) loads when a subcommand runs.
"""

from __future__ import annotations

import sys
from itertools import product
from typing import Annotated, Any

import typer

import dance.cli.render as render
from dance.cli.help_display import FlagAwareCommand, FlagAwareGroup
from dance.core.errors import DanceError, DanceInputError

__all__ = ["benchmark_app"]

#: options that take several values after one flag (``--seeds 0 1 2``), as well as repeated or comma-separated
MULTI_VALUE = ("--models", "--datasets", "--seeds", "--gpu-models")
SUBCOMMANDS = ("report",)


def spread_multi_values(args: list[str], names: tuple[str, ...] = MULTI_VALUE, stop: tuple[str, ...] = SUBCOMMANDS) -> list[str]:
    """``--seeds 0 1 2`` -> ``--seeds 0 --seeds 1 --seeds 2`` (click options take one value each).

    Values run until the next token that starts with ``-`` or names a subcommand."""
    spread: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        spread.append(token)
        i += 1
        if token in names:
            values = []
            while i < len(args) and not args[i].startswith("-") and args[i] not in stop:
                values.append(args[i])
                i += 1
            for n, value in enumerate(values):
                spread += [value] if n == 0 else [token, value]
    return spread


class BenchmarkGroup(FlagAwareGroup):
    """The ``dance benchmark`` group: its options take several values after one flag."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, spread_multi_values(list(args)))


benchmark_app = typer.Typer(
    cls=BenchmarkGroup,
    invoke_without_command=True,
    help="Run a grid of task x models x datasets x seeds x parameter sets, one fresh `dance run` per cell, resumable, "
    "on this machine or a Dask cluster; `dance benchmark report RUNS_DIR` writes its tables and figures.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _sweeps(items: list[str]) -> list[dict[str, Any]]:
    """``["resolution=0.5,1.0", "n_neighbors=[10,30]"]`` -> one parameter set per combination."""
    from dance.cli.parsing import parse_value

    axes: list[list[tuple[str, Any]]] = []
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip() or not text.strip():
            raise DanceInputError(f"--sweep expects key=v1,v2,... or key=[v1,v2], got '{item}'", field="--sweep")
        parsed = parse_value(text.strip())
        values = parsed if isinstance(parsed, list) else [parse_value(v.strip()) for v in text.split(",")]
        axes.append([(key.strip().replace("-", "_"), v) for v in values])
    return [{"name": "_".join(f"{k}={v}" for k, v in combination), "params": dict(combination)} for combination in product(*axes)]


def _config(config_file: str | None, task: str | None, models: list[str] | None, datasets: list[str] | None, **fields: Any) -> Any:
    """The grid from ``--config`` and/or the options (options given replace the file's fields)."""
    from dance.core.benchmark import load_config, make_config

    overrides = {k: v for k, v in fields.items() if v is not None}
    if config_file is None:
        if task is None:
            raise DanceInputError("give the grid: --task TASK (with --models, --datasets, --seeds) or --config FILE", field="--task")
        raw: dict[str, Any] = {"task": task, **overrides}
        if models:
            raw["models"] = models[0] if models in (["all"], ["default"]) else models
        if datasets:
            raw["datasets"] = datasets[0] if datasets in (["all"], ["default"]) else datasets
        return make_config(raw)
    config = load_config(config_file)
    raw = config.model_dump(mode="json")
    if task is not None and task != config.task:
        raise DanceInputError(f"--task {task} differs from the task of {config_file} ({config.task})", field="--task")
    if "params" in overrides:
        overrides["params"] = {**raw["params"], **overrides["params"]}
    raw.update(overrides)
    # names given on the command line pick the file's entries by their label (a variant keeps its
    # parameters); other names are plain models / datasets
    if models:
        entries = {m.name: m.model_dump(mode="json") for m in config.models} if isinstance(config.models, list) else {}
        raw["models"] = models[0] if models in (["all"], ["default"]) else [entries.get(name, name) for name in models]
    if datasets:
        entries = {d.name: d.model_dump(mode="json") for d in config.datasets} if isinstance(config.datasets, list) else {}
        raw["datasets"] = datasets[0] if datasets in (["all"], ["default"]) else [entries.get(name, name) for name in datasets]
    return make_config(raw, source=config_file)


@benchmark_app.callback()
def benchmark(
    ctx: typer.Context,
    config_file: Annotated[
        str | None,
        typer.Option("--config", "-c", metavar="FILE", help="A grid in TOML (benchmarks/<name>.toml); options given override it."),
    ] = None,
    task: Annotated[str | None, typer.Option("--task", "-t", metavar="TASK", help="The task of every cell.")] = None,
    models: Annotated[
        list[str] | None, typer.Option("--models", "-m", metavar="NAME...", help="Models (several after one flag), 'all' or 'default'.")
    ] = None,
    datasets: Annotated[
        list[str] | None,
        typer.Option("--datasets", "-d", metavar="NAME...", help="Registered datasets or input files, 'all' or 'default'."),
    ] = None,
    seeds: Annotated[list[int] | None, typer.Option("--seeds", metavar="N...", help="Seeds (default 0).")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", "-s", metavar="KEY=VALUE", help="Model parameter of every run (repeatable; JSON values).")
    ] = None,
    sweep: Annotated[
        list[str] | None,
        typer.Option("--sweep", metavar="KEY=V1,V2", help="Run every cell once per value (repeatable: every combination)."),
    ] = None,
    run_args: Annotated[
        list[str] | None,
        typer.Option(
            "--run-arg",
            metavar="ARG",
            help="Extra `dance run` argument of every run (repeatable), e.g. --run-arg=--n-clusters-from-labels.",
        ),
    ] = None,
    gpu_models: Annotated[
        list[str] | None,
        typer.Option("--gpu-models", metavar="NAME...", help="Models that need a GPU worker (besides those tagged 'gpu')."),
    ] = None,
    device: Annotated[
        str | None, typer.Option("--device", metavar="DEVICE", help="`dance run --device` of CPU models (default cpu).")
    ] = None,
    out: Annotated[
        str | None, typer.Option("--out", "-o", metavar="FOLDER", help="Runs folder (default: the config's, else benchmark-runs/<name>).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", metavar="", help="Rerun cells that are done.")] = False,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", metavar="N", min=1, help="Runs at once on this machine (default 1: clean timings).")
    ] = 1,
    gpus: Annotated[int, typer.Option("--gpus", metavar="N", min=0, help="How many of the --jobs workers have a GPU (GPU i each).")] = 0,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", metavar="ADDRESS", help="Run on an existing Dask cluster (tcp://HOST:PORT).")
    ] = None,
    scheduler_file: Annotated[
        str | None, typer.Option("--scheduler-file", metavar="FILE", help="Run on the Dask cluster whose scheduler wrote FILE.")
    ] = None,
    retries: Annotated[int | None, typer.Option("--retries", metavar="N", min=0, help="Reruns of a crashed run (default 2).")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", metavar="SECONDS", help="Stop a run after this long (not retried).")] = None,
    threads_per_run: Annotated[
        int | None, typer.Option("--threads-per-run", metavar="N", min=1, help="OMP/MKL/OpenBLAS threads of each run.")
    ] = None,
    plots: Annotated[bool, typer.Option("--plots", metavar="", help="Let runs write their figures (default: --no-plots).")] = False,
    strict: Annotated[bool, typer.Option("--strict", metavar="", help="Exit 1 when a cell failed.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", metavar="", help="Show every cell and whether it would run; run nothing.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", metavar="", help="No progress; only the summary.")] = False,
    fmt: Annotated[str, typer.Option("--format", "-f", metavar="FORMAT", help="table or json (the summary)")] = "table",
) -> None:
    """Run a benchmark grid: one fresh `dance run` per cell into <out>/<task>-<model>-<dataset>-seed<N>/.

    Cells already done with the same fingerprint (task, model, input checksum, parameters, seed,
    dance version) are skipped, so an interrupted grid resumes where it stopped; a cell still
    running (an orphan of a killed driver) is waited for, never started twice. Exit status: 0 when
    the grid finished (failed cells are listed), 1 with --strict and a failed cell, 2 on bad input
    or when a GPU model has no GPU worker.
    """
    if ctx.invoked_subcommand is not None:
        return
    from dance.cli.parsing import parse_set_options
    from dance.core.benchmark import plan, run_benchmark

    if fmt not in ("table", "json"):
        raise DanceError(f"unknown --format '{fmt}'; expected 'table' or 'json'")
    config = _config(
        config_file,
        task,
        _split(models),
        _split(datasets),
        seeds=seeds or None,
        params=parse_set_options(set_) if set_ else None,
        param_sets=_sweeps(sweep) if sweep else None,
        args=list(run_args) if run_args else None,
        gpu_models=_split(gpu_models),
        device=device,
        retries=retries,
        timeout=timeout,
        plots=True if plots else None,
    )
    runs = out or config.out or f"benchmark-runs/{config.stem}"
    if dry_run:
        _print_plan(plan(config, runs, force=force), fmt)
        return
    display = _Progress(quiet=quiet)  # on stderr: JSON on stdout stays clean
    with display:
        summary = run_benchmark(
            config,
            out=runs,
            force=force,
            jobs=jobs,
            gpus=gpus,
            scheduler=scheduler,
            scheduler_file=scheduler_file,
            threads_per_run=threads_per_run,
            progress=display.update,
        )
    if fmt == "json":
        render.print_json(summary.to_dict())
    else:
        _print_summary(summary)
    if strict and summary.failed:
        raise typer.Exit(1)


@benchmark_app.command("report", cls=FlagAwareCommand)
def report(
    runs_dir: Annotated[str, typer.Argument(metavar="RUNS_DIR", help="The folder of a benchmark's runs (its --out).")],
    out: Annotated[str | None, typer.Option("--out", "-o", metavar="FOLDER", help="Where to write (default RUNS_DIR/report).")] = None,
) -> None:
    """Write the benchmark's tables (Markdown + CSV: metric mean and sd over seeds, fit seconds, peak memory, hosts) and figures."""
    from dance.core.benchmark import write_report

    for path in write_report(runs_dir, out):
        print(path)


def _print_plan(planned: list[Any], fmt: str) -> None:
    rows = [(p.folder.name, {"done": "done (skip)", "busy": "running elsewhere", "todo": "to run"}[p.state]) for p in planned]
    if fmt == "json":
        render.print_json([{"folder": str(p.folder), "state": p.state, "cell": p.cell.model_dump(mode="json")} for p in planned])
        return
    render.print_table(f"{len(rows)} cells in {planned[0].folder.parent if planned else '?'}", ["cell", "state"], rows)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


def _print_summary(summary: Any) -> None:
    data = summary.to_dict()
    text = (
        f"{data['total']} cells: {data['ran']} ran, {data['skipped']} skipped (done before), {data['failed']} failed "
        f"in {_duration(summary.elapsed)} ({summary.concurrency or 0} at once); runs in {summary.out}"
    )
    render.console.print(text, highlight=False, markup=False)
    if summary.failed:
        render.print_table(
            "failed cells (see their stderr.log)",
            ["cell", "attempts", "last error"],
            [(p.folder.name, p.outcome.get("attempts", ""), p.outcome.get("error", "")) for p in summary.failed],
        )
    render.console.print(f"tables and figures: dance benchmark report {summary.out}", highlight=False, markup=False)


class _Progress:
    """A live table on a terminal (stderr); one line per finished cell otherwise; nothing when quiet."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.live: Any = None
        self.last = ""
        self.terminal = render.error_console.is_terminal and not quiet

    def __enter__(self) -> _Progress:
        if self.terminal:
            from rich.live import Live

            self.live = Live(console=render.error_console, refresh_per_second=4, transient=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def update(self, snap: Any) -> None:
        if self.quiet:
            return
        if self.live is not None:
            self.live.update(self._table(snap))
        elif snap.last and snap.last != self.last:
            print(f"[{snap.finished}/{snap.total}] {snap.last}", file=sys.stderr, flush=True)
        self.last = snap.last

    @staticmethod
    def _table(snap: Any) -> Any:
        from rich.table import Table
        from rich.text import Text

        table = Table(title=Text(f"dance benchmark: {snap.total} cells, {snap.workers} at once"), title_justify="left")
        for column in ("done", "skipped", "running", "elsewhere", "queued", "failed", "remaining", "elapsed", "ETA"):
            table.add_column(column, justify="right")
        table.add_row(
            str(snap.ok),
            str(snap.skipped),
            str(snap.running),
            str(snap.elsewhere),
            str(snap.queued),
            Text(str(snap.failed), style="red" if snap.failed else ""),
            str(snap.remaining),
            _duration(snap.elapsed),
            _duration(snap.eta_seconds),
        )
        lines = (
            [Text(f"running: {', '.join(snap.running_cells[:4])}" + (" ..." if len(snap.running_cells) > 4 else ""))]
            if snap.running_cells
            else []
        )
        if snap.last:
            lines.append(Text(f"last: {snap.last}"))
        from rich.console import Group

        return Group(table, *lines)
