"""The ``dance`` command.

Listing commands read registry specs only (no torch, no scanpy); commands that compute import
what they need when they run. Errors from bad input print one line and exit with status 2.
"""

from __future__ import annotations

import importlib.metadata
import sys
from typing import Annotated, Any

import typer

import dance.cli.render as render
from dance.cli.benchmark_command import benchmark_app
from dance.cli.help_display import FlagAwareCommand, FlagAwareGroup
from dance.cli.predict_command import predict_command
from dance.cli.run_command import run_command
from dance.core import registry
from dance.core.errors import DanceError

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    name="dance",
    help="dance: deep-learning single-cell analysis and benchmarking. Run published methods on real data with one interface.",
    cls=FlagAwareGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings=HELP_OPTIONS,
)
data_app = typer.Typer(
    help="Registered datasets: list them, locate their files, download them.",
    cls=FlagAwareGroup,
    no_args_is_help=True,
    context_settings=HELP_OPTIONS,
)
app.add_typer(data_app, name="data")
app.add_typer(benchmark_app, name="benchmark")

KINDS = ("tasks", "models", "datasets", "metrics", "transforms", "commands")
Format = Annotated[str, typer.Option("--format", "-f", metavar="FORMAT", help="table or json")]
TaskOption = Annotated[str | None, typer.Option("--task", "-t", metavar="TASK", help="The task, when the name exists for several.")]


def _check_format(value: str) -> str:
    if value not in ("table", "json"):
        raise DanceError(f"unknown --format '{value}'; expected 'table' or 'json'")
    return value


def _version_callback(value: bool) -> None:
    if not value:
        return
    try:
        version = importlib.metadata.version("dance-cli")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    render.console.print(f"dance {version}")
    for plugin in registry.plugins():
        status = "" if plugin.status == "ok" else f" [{plugin.status}]"
        render.console.print(
            f"  {plugin.name}: {plugin.distribution or '?'} {plugin.version or '?'}{status}", highlight=False, markup=False
        )
    raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", metavar="", callback=_version_callback, is_eager=True, help="Show dance's and every plugin's version."),
    ] = False,
) -> None:
    """dance: one interface to published single-cell methods."""


# ---------------------------------------------------------------------------- list
def _entry_row(spec: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"name": spec.name, "kind": spec.kind, "summary": spec.summary, "plugin": spec.plugin}
    if hasattr(spec, "task"):
        row["task"] = spec.task
    if hasattr(spec, "tasks"):
        row["tasks"] = list(spec.tasks)
    if getattr(spec, "citation", None):
        row["citation"] = spec.citation
    return row


@app.command("list", cls=FlagAwareCommand)
def list_entries(
    kind: Annotated[str, typer.Argument(metavar="KIND", help="tasks, models, datasets, metrics, transforms or commands")] = "tasks",
    task: Annotated[str | None, typer.Option("--task", "-t", metavar="TASK", help="Only entries of this task.")] = None,
    fmt: Format = "table",
) -> None:
    """List registered tasks, models, datasets, metrics, transforms or commands."""
    _check_format(fmt)
    if kind not in KINDS:
        from dance.core.errors import UnknownNameError

        raise UnknownNameError("kind", kind, KINDS)
    if kind == "tasks":
        tasks = [t for t in registry.tasks() if task is None or t.name == task]
        if task is not None and not tasks:
            registry.get_task(task)
        rows = []
        for spec in tasks:
            models = registry.models(spec.name)
            datasets = registry.datasets(spec.name)
            rows.append(
                {
                    **_entry_row(spec),
                    "task": spec.name,
                    "models": [m.name for m in models],
                    "datasets": [d.name for d in datasets],
                    "default_model": registry.default_model(spec.name).name if models else None,
                    "default_dataset": registry.default_dataset(spec.name).name if datasets else None,
                    "metrics": list(spec.metrics),
                }
            )
        if fmt == "json":
            render.print_json(rows)
            return
        render.print_table(
            f"{len(rows)} tasks (dance info TASK for its contract; --format json for everything)",
            ["task", "models", "datasets", "default model", "default dataset", "metrics"],
            [
                (
                    r["name"],
                    len(r["models"]),
                    len(r["datasets"]),
                    r["default_model"],
                    r["default_dataset"],
                    render.shorten_list(r["metrics"]),
                )
                for r in rows
            ],
        )
        return
    specs: list[Any] = {
        "models": lambda: registry.models(task),
        "datasets": lambda: registry.datasets(task),
        "metrics": lambda: registry.metrics(task),
        "transforms": registry.transforms,
        "commands": registry.commands,
    }[kind]()
    rows = [_entry_row(s) for s in specs]
    if kind == "datasets":
        for row, spec in zip(rows, specs, strict=False):
            row["shape"] = spec.shape
            row["embedded"] = spec.embedded
    if fmt == "json":
        render.print_json(rows)
        return
    if kind in ("models", "metrics"):
        render.print_table(
            f"{len(rows)} {kind}", ["name", "task", "plugin", "summary"], [(r["name"], r["task"], r["plugin"], r["summary"]) for r in rows]
        )
    elif kind == "datasets":
        render.print_table(
            f"{len(rows)} datasets",
            ["name", "tasks", "shape", "embedded", "plugin", "summary"],
            [(r["name"], ", ".join(r["tasks"]), r["shape"], "yes" if r["embedded"] else "", r["plugin"], r["summary"]) for r in rows],
        )
    else:
        render.print_table(f"{len(rows)} {kind}", ["name", "plugin", "summary"], [(r["name"], r["plugin"], r["summary"]) for r in rows])


# ---------------------------------------------------------------------------- info
@app.command(cls=FlagAwareCommand)
def info(
    name: Annotated[str, typer.Argument(metavar="NAME", help="A task, model, dataset, metric or transform name.")],
    task: TaskOption = None,
    fmt: Format = "table",
) -> None:
    """Show everything about one registered entry (a model's parameters, a task's contract, ...)."""
    from dance.cli.describe import describe

    _check_format(fmt)
    found = [s for s in registry.find(name) if task is None or getattr(s, "task", task) == task or task in getattr(s, "tasks", ())]
    if not found:
        registry.get_model(name, task)
    details = [describe(spec) for spec in found]
    if fmt == "json":
        render.print_json(details if len(details) > 1 else details[0])
        return
    for detail in details:
        render.print_table(
            f"{detail['kind']} {detail['name']}", ["field", "value"], [(k, _show(v)) for k, v in detail.items() if k not in ("kind",)]
        )


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "\n".join(f"{k}: {_show(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "\n".join(_show(v) for v in value)
    return str(value)


# ---------------------------------------------------------------------------- plugins
@app.command(cls=FlagAwareCommand)
def plugins(fmt: Format = "table") -> None:
    """Every plugin found: version, what it registered, and its error if it failed."""
    _check_format(fmt)
    records = registry.plugins()
    if fmt == "json":
        render.print_json([r.model_dump() for r in records])
        return
    rows = []
    for r in records:
        registered = ", ".join(f"{len(v)} {k}s" for k, v in r.registered.items())
        rows.append((r.name, r.distribution, r.version, r.status, registered, r.error or ""))
    render.print_table(f"{len(rows)} plugins", ["plugin", "distribution", "version", "status", "registered", "error"], rows)


# ---------------------------------------------------------------------------- run
app.command("run", cls=FlagAwareCommand)(run_command)
app.command("predict", cls=FlagAwareCommand)(predict_command)


# ---------------------------------------------------------------------------- check
@app.command(cls=FlagAwareCommand)
def check(
    model: Annotated[str, typer.Argument(metavar="MODEL", help="Model name.")],
    task: TaskOption = None,
) -> None:
    """Run the contributor test kit on one model; exits 1 if any check fails."""
    from dance.core.testing import check_model

    failures = 0
    with render.error_console.status(f"checking {model}"):
        results = check_model(model, task)
    rows = []
    for name, error in results.items():
        failures += error is not None
        rows.append((name, "ok" if error is None else "FAILED", error or ""))
    render.print_table(f"contract checks of {model}", ["check", "result", "error"], rows)
    if failures:
        raise typer.Exit(1)


# ---------------------------------------------------------------------------- data
@data_app.command("list", cls=FlagAwareCommand)
def data_list(
    task: Annotated[str | None, typer.Option("--task", "-t", metavar="TASK", help="Only datasets of this task.")] = None,
    fmt: Format = "table",
) -> None:
    """Datasets and where their files are (embedded, DANCE_DATA_DIR, cache, or missing)."""
    from dance.core.data.fetch import file_status

    _check_format(fmt)
    rows = []
    for spec in registry.datasets(task):
        where = {w for _, w in file_status(spec)}
        available = "missing" if None in where else ", ".join(sorted(w for w in where if w))
        rows.append({**_entry_row(spec), "shape": spec.shape, "available": available, "files": [f.path for f in spec.files]})
    if fmt == "json":
        render.print_json(rows)
        return
    render.print_table(
        f"{len(rows)} datasets",
        ["name", "tasks", "available", "files", "summary"],
        [(r["name"], ", ".join(r["tasks"]), r["available"], len(r["files"]), r["summary"]) for r in rows],
    )


@data_app.command("path", cls=FlagAwareCommand)
def data_path(name: Annotated[str, typer.Argument(metavar="NAME", help="Dataset name.")]) -> None:
    """Print the verified local path of each file of a dataset (never downloads)."""
    from dance.core.data.fetch import fetch_dataset

    for path in fetch_dataset(registry.get_dataset(name), download=False).values():
        print(path)


@data_app.command("fetch", cls=FlagAwareCommand)
def data_fetch(name: Annotated[str, typer.Argument(metavar="NAME", help="Dataset name.")]) -> None:
    """Download (if needed) and verify every file of a dataset; prints their paths."""
    from dance.core.data.fetch import fetch_dataset

    for path in fetch_dataset(registry.get_dataset(name), download=True, progressbar=True).values():
        print(path)


# ---------------------------------------------------------------------------- extensions and entry point
def _add_extension_commands(wanted: str | None) -> list[str]:
    """Add plugin commands (all of them, or only ``wanted``); returns errors to report."""
    from dance.core.errors import TargetImportError

    errors = []
    builtin = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    for spec in registry.commands():
        if spec.name in builtin or (wanted is not None and spec.name != wanted):
            continue
        try:
            target = spec.load()
        except TargetImportError as exc:
            errors.append(str(exc))
            continue
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=spec.name, help=spec.summary)
        else:
            app.command(name=spec.name, help=spec.summary)(target)
    return errors


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``dance`` console script.

    Exit status: 0 on success; 1 when ``dance check`` finds a failing check (or Typer aborts); 2 on a
    usage error (Typer's usage message) or bad input (one ``error:`` line naming the field); 130 when
    interrupted. Errors that are bugs keep their traceback.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args if not a.startswith("-")), None)
    builtin = {"list", "info", "plugins", "run", "predict", "check", "data", "benchmark"}
    try:
        if command not in builtin and not (command is None and "--version" in args):
            for error in _add_extension_commands(None if command is None else command):
                render.print_error(error)
        if not args or args == ["data"]:
            # a bare group is a usage error: the help, then exit 2 (Typer >= 0.16 does this itself,
            # older ones exit 0)
            _print_help(args)
            sys.exit(2)
        # standalone mode: Typer prints usage errors, `typer.Exit(code)` becomes the exit status
        app(args=args, prog_name="dance", standalone_mode=True)
    except DanceError as exc:
        render.print_error(str(exc))
        sys.exit(2)
    except KeyboardInterrupt:
        render.print_error("interrupted")
        sys.exit(130)


def _print_help(args: list[str]) -> None:
    import contextlib

    with contextlib.redirect_stdout(sys.stderr), contextlib.suppress(SystemExit):
        app(args=[*args, "--help"], prog_name="dance", standalone_mode=True)


if __name__ == "__main__":
    main()
