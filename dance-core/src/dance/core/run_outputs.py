"""Writing what a run (``dance run``) or a prediction (``dance predict``) produced: the output
AnnData files, the task's figure and the training curves, ``metrics.csv`` and ``result.json``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dance.core.errors import DanceInputError

if TYPE_CHECKING:
    from dance.core.keys import DataKeys
    from dance.core.run_result import RunResult

__all__ = ["finish_run"]


def finish_run(
    result: RunResult,
    contract: Any,
    model: Any,
    *,
    view: Any,
    original: Any,
    prediction: Any,
    truth: Any,
    keys: DataKeys,
    resolved: Any,
    out: str | Path | None,
    write: bool,
    plots: bool,
    progress: Callable[[str], Any],
    folder_name: str | None = None,
) -> RunResult:
    """Attach the output AnnData to ``result`` and, with ``write``, save it with the figures,
    ``metrics.csv`` and ``result.json`` into ``out`` (a new folder under ``./dance-runs/`` when None)."""
    task, model_name = result.task, result.model
    source = contract.output_source(view, original, keys)
    outputs = contract.write_output(source, prediction, keys, model_name=model_name, model=model)
    if resolved.output_rows is not None:
        outputs = {stem: adata[resolved.output_rows].copy() for stem, adata in outputs.items()}
    result._adatas = outputs
    if write:
        folder = _output_folder(out, task, folder_name or model_name, result.started_at)
        written: dict[str, str] = {}
        if plots:
            from dance.core.plotting.context import PlotContext

            context = PlotContext(
                task=task,
                model=model_name,
                dataset=resolved.label,
                metrics=result.metrics,
                headline=contract.headline_metric,
                seed=result.seed,
                modalities=resolved.modalities,
            )
            with progress("plotting"):
                figures = contract.plot(outputs, prediction, truth, keys, context=context, folder=folder)
                if result.training:
                    from dance.core.plotting.training import plot_training

                    curve = plot_training(result.training, folder / "training.png", context=context)
                    if curve is not None:
                        figures = {**figures, "training": curve}
            written.update({name: str(path) for name, path in figures.items()})
        if model is not None:
            with progress("writing the model's outputs"):
                written.update({name: str(path) for name, path in model.write_model_outputs(folder, plots=plots).items()})
        with progress("writing outputs"):
            protected = {p.resolve() for p in resolved.files}
            for stem, adata in outputs.items():
                written[stem] = str(_write_h5ad(adata, folder / f"{stem}.h5ad", protected))
            metrics_path = folder / "metrics.csv"
            metrics_path.write_text("metric,value\n" + "".join(f"{k},{v!r}\n" for k, v in result.metrics_table()))
            written["metrics"] = str(metrics_path)
            written["result"] = str(folder / "result.json")
            result.outputs = dict(sorted(written.items()))
            (folder / "result.json").write_text(json.dumps(result.model_dump(mode="json"), indent=2) + "\n")
    return result


def _output_folder(out: str | Path | None, task: str, model: str, started: str) -> Path:
    if out is not None:
        folder = Path(out).expanduser()
    else:
        stamp = started.replace(":", "").replace("-", "").replace("+0000", "Z")
        folder = Path("dance-runs") / f"{stamp}-{task}-{model}"
        suffix = 1
        while folder.exists():
            suffix += 1
            folder = Path("dance-runs") / f"{stamp}-{task}-{model}-{suffix}"
    if folder.exists() and not folder.is_dir():
        raise DanceInputError(f"--out {folder} exists and is not a folder", field="out")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _write_h5ad(adata: Any, path: Path, protected: set[Path]) -> Path:
    if path.resolve() in protected:
        raise DanceInputError(f"refusing to overwrite input file {path}; choose another --out folder", field="out")
    _sanitise_for_h5ad(adata)
    frames = _frames_with_slashes(adata)
    tmp = path.with_suffix(".h5ad.tmp")
    try:
        adata.write_h5ad(tmp)
    finally:
        for key, frame in frames.items():  # the in-memory result keeps its DataFrames
            adata.obsm[key] = frame
            del adata.uns[f"{key}_columns"]
    tmp.replace(path)
    return path


def _frames_with_slashes(adata: Any) -> dict[str, Any]:
    """Store ``obsm`` DataFrames whose column names hold '/' (cell types such as 'G/M prog',
    'L2/3 IT') as arrays with the names in ``uns['<key>_columns']``: HDF5 reads '/' in a column
    name as a path, and anndata is about to refuse such names. Returns the frames replaced."""
    import numpy as np
    import pandas as pd

    replaced = {}
    for key in list(adata.obsm.keys()):
        value = adata.obsm[key]
        if isinstance(value, pd.DataFrame) and any("/" in str(c) for c in value.columns):
            replaced[key] = value
            adata.obsm[key] = value.to_numpy(dtype=np.float32)
            adata.uns[f"{key}_columns"] = np.asarray([str(c) for c in value.columns], dtype=object)
    return replaced


def _sanitise_for_h5ad(adata: Any) -> None:
    # object columns holding None/mixed types cannot be written by anndata; store them as strings
    import pandas as pd

    for frame in (adata.obs, adata.var):
        for column in frame.columns:
            if frame[column].dtype == object:
                frame[column] = pd.Categorical(frame[column].map(lambda x: None if x is None else str(x)))
