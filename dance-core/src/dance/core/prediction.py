"""Applying a saved model to new data (``dance predict``), as scvi-tools users apply a trained model.

::

    from dance.core import run
    from dance.core.prediction import predict

    run("cell_type_annotation", "actinn", "bmmc_cite_gex", save_model="models/actinn")
    result = predict("models/actinn", "query.h5ad", out="runs/query")   # scored when the query has labels
    result.adata.obs["actinn_pred"]

The model is loaded from its folder (parameters, pipeline, genes, fitted state), the new data are
checked against the genes it was fitted on, every cell is predicted, the truth is hidden from the
model and used for the task's metrics when the data hold it, and the same files as a run are
written: the output ``.h5ad``, the figure, ``metrics.csv`` and ``result.json`` (with ``model_dir``).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dance.core.keys import DataKeys
from dance.core.run_result import Progress, RunResult, no_progress

__all__ = ["predict"]


def predict(
    model_dir: str | Path,
    data: Any,
    *,
    data2: Any = None,
    modalities: tuple[str | None, str | None] | None = None,
    keys: DataKeys | Mapping[str, str | None] | None = None,
    device: str = "auto",
    out: str | Path | None = None,
    write: bool = True,
    plots: bool = True,
    download: bool = True,
    progress: Progress | None = None,
    registry: Any = None,
) -> RunResult:
    """Predict ``data`` with the model saved in ``model_dir`` and return the result record.

    Parameters
    ----------
    model_dir
        A folder written by ``dance run --save-model`` / ``model.save``.
    data, data2, modalities
        The new data, as for :func:`dance.core.run` (a path, an AnnData, a registered dataset).
    keys
        Where the new data hold their fields (``label_key`` for scoring, ``counts_layer``, ...),
        on top of the keys the model was fitted with.
    device
        ``auto`` (GPU when present), ``cpu`` or ``cuda``.
    out, write, plots
        As for :func:`dance.core.run`.
    """
    from dance.core.data.checksum import data_checksum, files_checksum
    from dance.core.data.inputs import resolve_input
    from dance.core.measurement import Measure
    from dance.core.models.persistence import load_model_dir
    from dance.core.run_outputs import finish_run
    from dance.core.validation import require_named_keys
    from dance.core.versions import package_versions

    if registry is None:
        from dance.core.registry import registry as default_registry

        registry = default_registry
    progress = progress or no_progress
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    with progress("loading the model"):
        model = load_model_dir(model_dir, device=device, registry=registry)
    task_spec = registry.get_task(model.task)
    contract = registry.contract(model.task)
    overrides = keys.model_dump() if isinstance(keys, DataKeys) else dict(keys or {})
    overrides = {k: v for k, v in overrides.items() if v is not None}
    with progress("loading data"):
        resolved = resolve_input(task_spec, data, data2=data2, modalities=modalities, keys=overrides, registry=registry, download=download)
    data_keys = model.keys.with_overrides(**resolved.keys).with_overrides(**overrides)
    model.keys = data_keys
    original = resolved.data
    with progress("validating input"):
        require_named_keys(original, data_keys, named=overrides)
        contract.validate(original, data_keys, stage="predict", needs_counts=model.needs_counts)
        view, truth = contract.holdout_for_prediction(original, data_keys, seed=model.seed)
    with Measure() as measured_predict, progress(f"predicting with {model.name}"):
        prediction = model.predict(view)
    with Measure() as measured_score, progress("scoring"):
        metrics, absent = contract.evaluate_with_reasons(prediction, truth, data_keys, model=model)
    notes: dict[str, Any] = {**resolved.notes, "model_fitted_on": f"{sum(len(v) for v in model.input_features_.values())} features"}
    if truth is None:
        notes["metrics"] = "no ground truth in the input; nothing to score"
    if absent:
        notes["metrics_absent"] = absent
    result = RunResult(
        task=model.task,
        model=model.name,
        plugin=registry.get_model(model.name, model.task).plugin,
        dataset=resolved.dataset.name if resolved.dataset else None,
        input=resolved.description,
        dataset_checksum=files_checksum(resolved.files) if resolved.files else data_checksum(original),
        modalities=list(resolved.modalities) if resolved.modalities else None,
        metrics=metrics,
        fit_seconds=0.0,
        predict_seconds=round(measured_predict.seconds, 4),
        score_seconds=round(measured_score.seconds, 4),
        peak_memory_mb=round(measured_predict.peak_memory_mb, 1),
        peak_memory_scope=measured_predict.peak_scope,
        params=model.get_params(),
        seed=model.seed,
        device=model.device_,
        keys=data_keys.model_dump(),
        pipeline=[s.model_dump() for s in model.pipeline],
        notes=notes,
        model_dir=str(Path(model_dir).expanduser()),
        versions=package_versions(),
        started_at=started,
    )
    return finish_run(
        result,
        contract,
        model,
        view=view,
        original=original,
        prediction=prediction,
        truth=truth,
        keys=data_keys,
        resolved=resolved,
        out=out,
        write=write,
        plots=plots,
        progress=progress,
        folder_name=f"{model.name}-predict",
    )
