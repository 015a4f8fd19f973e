"""``dance run``: one model on one task and one input, with its metrics printed and its files written."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

import typer

import dance.cli.render as render
from dance.core.errors import DanceError, DanceInputError

__all__ = ["print_result", "run_command"]

Format = Annotated[str, typer.Option("--format", "-f", metavar="FORMAT", help="table or json")]


def run_command(
    task: Annotated[str, typer.Argument(metavar="TASK", help="Task name (see `dance list`).")],
    model: Annotated[
        str | None, typer.Option("--model", "-m", metavar="NAME", help="Model name; the task's default model if omitted.")
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option("--dataset", "-d", metavar="NAME", help="Registered dataset; the task's embedded default if omitted."),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            "--data", metavar="FILE", help="Input file: .h5ad, .h5mu, 10x .h5 or a Space Ranger folder (the query, with --reference)."
        ),
    ] = None,
    data2: Annotated[str | None, typer.Option("--data2", metavar="FILE", help="Second modality (.h5ad) for two-modality tasks.")] = None,
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference",
            metavar="FILE",
            help="Labelled reference cells (.h5ad): annotation trains on them and labels --data; deconvolution's single cells.",
        ),
    ] = None,
    mod1: Annotated[
        str | None, typer.Option("--mod1", metavar="NAME", help="Modality used as mod1, from an .h5mu file or a dataset (--mod1 adt --mod2 rna predicts RNA from protein).")
    ] = None,
    mod2: Annotated[
        str | None, typer.Option("--mod2", metavar="NAME", help="Modality used as mod2, from an .h5mu file or a dataset (default: the usual pair, RNA first).")
    ] = None,
    solution: Annotated[
        str | None,
        typer.Option("--solution", metavar="FILE", help="OpenProblems-style solution file holding the truth to score against."),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", "-s", metavar="KEY=VALUE", help="Model parameter (repeatable; values parsed as JSON)."),
    ] = None,
    n_clusters: Annotated[
        int | None,
        typer.Option(
            "--n-clusters", metavar="N", min=2, help="Give clustering / domain models this number of clusters (default: their own)."
        ),
    ] = None,
    n_clusters_from_labels: Annotated[
        bool,
        typer.Option(
            "--n-clusters-from-labels",
            metavar="",
            help="Give models the number of labelled types (the DANCE benchmark protocol; reads the labels).",
        ),
    ] = False,
    reveal_labels: Annotated[
        float | None,
        typer.Option(
            "--reveal-labels",
            metavar="FRACTION",
            help="Show the model the labels of this fraction of the cells (semi-supervised protocols such as scDCC's; "
            "joint-embedding models that train on cell types, which are then scored on the other cells).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="Seed of the split and the model.")] = 0,
    device: Annotated[str, typer.Option("--device", metavar="DEVICE", help="auto (GPU when present), cpu or cuda.")] = "auto",
    out: Annotated[
        str | None, typer.Option("--out", "-o", metavar="FOLDER", help="Output folder (default: a new folder under ./dance-runs/).")
    ] = None,
    label_key: Annotated[str | None, typer.Option("--label-key", metavar="KEY", help="obs column with labels (default cell_type).")] = None,
    batch_key: Annotated[str | None, typer.Option("--batch-key", metavar="KEY", help="obs column with batches (default batch).")] = None,
    spatial_key: Annotated[
        str | None, typer.Option("--spatial-key", metavar="KEY", help="obsm key with coordinates (default spatial).")
    ] = None,
    counts_layer: Annotated[
        str | None, typer.Option("--counts-layer", metavar="KEY", help="layer with raw counts (default counts, else X).")
    ] = None,
    split_key: Annotated[str | None, typer.Option("--split-key", metavar="KEY", help="obs column with train/test (default split).")] = None,
    proportions_key: Annotated[
        str | None, typer.Option("--proportions-key", metavar="KEY", help="obsm key with true proportions (default proportions).")
    ] = None,
    save_model: Annotated[
        str | None,
        typer.Option("--save-model", metavar="FOLDER", help="Save the fitted model here, to apply it later with `dance predict`."),
    ] = None,
    pipeline: Annotated[
        str | None,
        typer.Option(
            "--pipeline", metavar="STEPS", help="'none', or a JSON list of steps / a JSON file replacing the model's preprocessing."
        ),
    ] = None,
    no_plots: Annotated[bool, typer.Option("--no-plots", metavar="", help="Write no figures (and compute no UMAP).")] = False,
    no_download: Annotated[bool, typer.Option("--no-download", metavar="", help="Never download dataset files.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", metavar="", help="No spinner and no training progress bars.")] = False,
    fmt: Format = "table",
) -> None:
    """Run a model on a task and print its metrics; writes result.json, metrics.csv, the output .h5ad and a figure."""
    from dance.cli.parsing import parse_pipeline_option, parse_set_options
    from dance.core.runner import run as run_task

    if fmt not in ("table", "json"):
        raise DanceError(f"unknown --format '{fmt}'; expected 'table' or 'json'")
    if dataset is not None and data is not None:
        raise DanceInputError("pass either --dataset or --data, not both", field="--data")
    if n_clusters is not None and n_clusters_from_labels:
        raise DanceInputError("pass either --n-clusters or --n-clusters-from-labels, not both", field="--n-clusters")
    params = parse_set_options(set_ or [])
    keys = {
        "label_key": label_key,
        "batch_key": batch_key,
        "spatial_key": spatial_key,
        "counts_layer": counts_layer,
        "split_key": split_key,
        "proportions_key": proportions_key,
    }
    steps = parse_pipeline_option(pipeline)
    modalities = (mod1, mod2) if mod1 is not None or mod2 is not None else None
    if quiet:
        import os

        os.environ["DANCE_QUIET"] = "1"  # the trainer's progress bars read it
    status = contextlib.nullcontext() if quiet else render.error_console.status("starting", spinner="dots")

    def progress(stage: str) -> Any:
        if not quiet:
            status.update(f"{task}: {stage}")
        return _Stage()

    with status:
        result = run_task(
            task,
            model,
            dataset if dataset is not None else data,
            data2=data2,
            reference=reference,
            solution=solution,
            modalities=modalities,
            params=params,
            n_clusters="labels" if n_clusters_from_labels else n_clusters,
            reveal_labels=reveal_labels,
            seed=seed,
            device=device,
            keys={k: v for k, v in keys.items() if v is not None},
            pipeline=steps,
            out=out,
            save_model=save_model,
            plots=not no_plots,
            download=not no_download,
            progress=progress,
        )
    if fmt == "json":
        render.print_json(result.model_dump(mode="json"))
        return
    print_result(result)


def print_result(result: Any) -> None:
    rows = [(name, render.format_metric(value)) for name, value in result.metrics_table()]
    title = f"{result.task} / {result.model} on {result.input} (seed {result.seed}, {result.device})"
    render.console.print(title, highlight=False, markup=False)
    if rows:
        render.print_table(None, ["metric", "value"], rows)
    else:
        render.console.print(f"  {result.notes.get('metrics', 'no metrics')}", highlight=False, markup=False)
    for key, value in result.notes.items():
        if key != "metrics":
            render.console.print(f"  {key}: {value}", highlight=False, markup=False)
    render.console.print(
        f"fit {result.fit_seconds:.2f} s, predict {result.predict_seconds:.2f} s, peak memory {result.peak_memory_mb:.0f} MB",
        highlight=False,
    )
    if result.model_dir:
        render.console.print(
            f"model saved to {result.model_dir}/ (dance predict --model-dir {result.model_dir} --data FILE)", highlight=False, markup=False
        )
    folder = result.outputs.get("result", "")
    render.console.print(
        f"wrote {folder.rsplit('/', 1)[0] if '/' in folder else '.'}/ ({', '.join(sorted(result.outputs))})", highlight=False, markup=False
    )


class _Stage:
    """The context manager a progress stage returns (the spinner's text already says the stage)."""

    def __enter__(self) -> _Stage:
        return self

    def __exit__(self, *exc: object) -> None:
        return None
