"""``dance predict``: a saved model (``dance run --save-model``) applied to new data."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

import typer

import dance.cli.render as render
from dance.core.errors import DanceError

__all__ = ["predict_command"]


def predict_command(
    model_dir: Annotated[str, typer.Option("--model-dir", metavar="FOLDER", help="A folder written by `dance run --save-model`.")],
    data: Annotated[str, typer.Option("--data", metavar="FILE", help="The new cells: .h5ad, .h5mu, 10x .h5, or a registered dataset.")],
    data2: Annotated[str | None, typer.Option("--data2", metavar="FILE", help="Second modality, for two-modality tasks.")] = None,
    mod1: Annotated[str | None, typer.Option("--mod1", metavar="NAME", help="Modality of an .h5mu used as mod1.")] = None,
    mod2: Annotated[str | None, typer.Option("--mod2", metavar="NAME", help="Modality of an .h5mu used as mod2.")] = None,
    label_key: Annotated[str | None, typer.Option("--label-key", metavar="KEY", help="obs column with labels, for scoring.")] = None,
    batch_key: Annotated[str | None, typer.Option("--batch-key", metavar="KEY", help="obs column with batches.")] = None,
    counts_layer: Annotated[str | None, typer.Option("--counts-layer", metavar="KEY", help="layer with raw counts.")] = None,
    device: Annotated[str, typer.Option("--device", metavar="DEVICE", help="auto (GPU when present), cpu or cuda.")] = "auto",
    out: Annotated[
        str | None, typer.Option("--out", "-o", metavar="FOLDER", help="Output folder (default: a new folder under ./dance-runs/).")
    ] = None,
    no_plots: Annotated[bool, typer.Option("--no-plots", metavar="", help="Write no figures.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", metavar="", help="No spinner.")] = False,
    fmt: Annotated[str, typer.Option("--format", "-f", metavar="FORMAT", help="table or json")] = "table",
) -> None:
    """Apply a saved model to new data: writes the predictions, a figure, metrics when the data hold the truth, and result.json."""
    from dance.cli.run_command import print_result
    from dance.core.prediction import predict

    if fmt not in ("table", "json"):
        raise DanceError(f"unknown --format '{fmt}'; expected 'table' or 'json'")
    keys = {"label_key": label_key, "batch_key": batch_key, "counts_layer": counts_layer}
    status = contextlib.nullcontext() if quiet else render.error_console.status("loading the model", spinner="dots")

    def progress(stage: str) -> Any:
        if not quiet:
            status.update(stage)
        return contextlib.nullcontext()

    with status:
        result = predict(
            model_dir,
            data,
            data2=data2,
            modalities=(mod1, mod2) if mod1 is not None or mod2 is not None else None,
            keys={k: v for k, v in keys.items() if v is not None},
            device=device,
            out=out,
            plots=not no_plots,
            progress=progress,
        )
    if fmt == "json":
        render.print_json(result.model_dump(mode="json"))
        return
    print_result(result)
