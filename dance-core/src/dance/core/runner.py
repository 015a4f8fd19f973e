"""Running one model on one task and one dataset, reproducibly.

::

    from dance.core import run

    result = run("clustering", "leiden", "pbmc4k_10x", params={"resolution": 0.8}, seed=0, out="runs/leiden")
    result.metrics            # {'ari': ..., 'nmi': ...}

A run resolves the input, validates it against the task contract, hides the truth
(``holdout``), fits and predicts on the view, scores, and writes ``result.json``,
``metrics.csv`` and the output ``.h5ad`` file(s) under ``out``. The user's data and files are
never modified.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from dance.core.errors import DanceInputError
from dance.core.keys import DataKeys
from dance.core.run_result import Progress, RunResult, no_progress

__all__ = ["RunResult", "run"]


def run(
    task: str,
    model: str | None = None,
    data: Any = None,
    *,
    data2: Any = None,
    reference: Any = None,
    solution: Any = None,
    modalities: tuple[str | None, str | None] | None = None,
    params: Mapping[str, Any] | None = None,
    n_clusters: int | Literal["labels"] | None = None,
    reveal_labels: float | None = None,
    seed: int = 0,
    device: str = "auto",
    keys: DataKeys | Mapping[str, str | None] | None = None,
    pipeline: list[Any] | None = None,
    out: str | Path | None = None,
    save_model: str | Path | None = None,
    write: bool = True,
    plots: bool = True,
    download: bool = True,
    progress: Progress | None = None,
    registry: Any = None,
) -> RunResult:
    """Run ``model`` on ``task`` and return its result record.

    Parameters
    ----------
    task
        Task name (``dance list tasks``).
    model
        Model name; the task's default model when None.
    data
        A registered dataset name, a path (.h5ad, .h5mu, 10x .h5, Space Ranger folder), or an
        in-memory AnnData / Modalities / SpotsAndReference. The task's default dataset when None.
        With ``reference``, annotation labels the cells of ``data`` (the query).
    data2
        Second modality when ``data`` is a single file.
    reference
        Labelled reference cells: annotation trains on them and annotates ``data``; deconvolution
        takes them as its single-cell reference.
    solution
        An OpenProblems-style solution file (or AnnData) with the truth the challenge keeps apart
        from the inputs; it is used for scoring only, never shown to the model.
    modalities
        ``(mod1, mod2)`` names of the modalities to take from an .h5mu file; the task's usual
        pair (e.g. ``rna`` and ``adt``/``atac``) when None.
    params
        Model parameters (validated; unknown names are refused with a suggestion).
    n_clusters
        For clustering and spatial domains only: a number of clusters given to the model, or
        ``"labels"`` for the number of labelled types (the DANCE benchmark protocol). By default
        (None) models use their own parameters and never read the labels;
        ``notes['n_clusters_source']`` records which (``model``, ``user`` or ``labels``).
    reveal_labels
        For clustering and spatial domains: show the model the labels of this seeded fraction of
        the cells in ``obs['known_<label_key>']`` (semi-supervised protocols such as scDCC's);
        the metrics are reported over all cells and over the unrevealed ones
        (``<metric>_unrevealed``). For joint embedding: the cell types of this fraction of the
        cells, for models that train on labels (default: the model's
        ``training_label_fraction``); the metrics cover the other cells only.
    seed
        Seeds the hold-out split and the model.
    device
        ``auto`` (GPU when present), ``cpu`` or ``cuda``.
    keys
        Overrides of the AnnData keys (``label_key``, ``batch_key``, ...), on top of the
        dataset's own keys. A key named here must exist in the input.
    pipeline
        Preprocessing steps replacing the model's default pipeline.
    out
        Output folder; a new folder under ``./dance-runs/`` when None.
    save_model
        Save the fitted model into this folder (``model.json`` + ``arrays.safetensors``) to apply
        it to new data later (:func:`dance.core.prediction.predict`, ``dance predict``).
        Transductive models (Leiden, Louvain, ...) refuse before any work.
    write
        Write ``result.json``, ``metrics.csv``, the output ``.h5ad`` file(s) and the figure.
    plots
        Draw the task's figure (PNG next to ``result.json``); for embedding tasks this also
        stores the UMAP coordinates in the output (``obsm['X_umap']``).
    progress
        ``progress(stage)`` returns a context manager wrapping each stage (the CLI shows a spinner).

    Returns
    -------
    RunResult
        Metrics, timings, parameters and versions (saved as ``result.json``), with the output
        AnnData object(s) attached (:attr:`RunResult.adata`, :attr:`RunResult.adatas`).
    """
    from dance.core.data.checksum import data_checksum, files_checksum
    from dance.core.data.inputs import resolve_input
    from dance.core.device import resolve_device
    from dance.core.measurement import Measure
    from dance.core.validation import require_named_keys
    from dance.core.versions import package_versions

    if registry is None:
        from dance.core.registry import registry as default_registry

        registry = default_registry
    progress = progress or no_progress
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    task_spec = registry.get_task(task)
    contract = registry.contract(task)
    model_spec = registry.get_model(model, task) if model else registry.default_model(task)
    model_cls = registry.load_model(model_spec.name, task)
    if save_model is not None and (refusal := model_cls.saving_refusal()):
        raise DanceInputError(refusal, field="--save-model")
    concrete_device = resolve_device(device)

    overrides = keys.model_dump() if isinstance(keys, DataKeys) else dict(keys or {})
    overrides = {k: v for k, v in overrides.items() if v is not None}
    with progress("loading data"):
        resolved = resolve_input(
            task_spec,
            data,
            data2=data2,
            reference=reference,
            solution=solution,
            modalities=modalities,
            keys=overrides,  # a reference/query or solution merge writes the label and split columns the run reads
            registry=registry,
            download=download,
        )
    data_keys = DataKeys(**resolved.keys).with_overrides(**overrides)
    original = resolved.data

    with progress("validating input"):
        require_named_keys(original, data_keys, named=overrides)
        # validated once: the hold-out, fit and predict below find this record instead of checking again
        contract.validate(original, data_keys, stage="evaluate", needs_counts=model_cls.needs_counts)
        view, truth = contract.holdout(original, data_keys, seed=seed)
        if reveal_labels is None and model_cls.training_label_fraction is not None and truth is not None:
            # a model that trains on labels gets those of a seeded part of the cells; the rest are scored
            reveal_labels = model_cls.training_label_fraction
        revealed = {} if reveal_labels is None else contract.reveal_labels(view, truth, data_keys, fraction=reveal_labels, seed=seed)
        contract.mark_validated(view, data_keys, stage="fit", needs_counts=model_cls.needs_counts)
    given = dict(params or {})
    dataset_params = resolved.dataset.model_params.get(model_spec.name, {}) if resolved.dataset is not None else {}
    from_dataset = {name: value for name, value in dataset_params.items() if name not in given}
    chosen_params, notes = contract.suggest_params(model_cls, original, data_keys, {**from_dataset, **given})
    if from_dataset:
        notes = {**notes, "params_from_dataset": from_dataset}
    chosen_params, cluster_notes = contract.choose_n_clusters(model_cls, original, data_keys, chosen_params, n_clusters)
    notes = {**resolved.notes, **cluster_notes, **revealed, **notes}
    instance = model_cls(chosen_params, seed=seed, device=concrete_device, keys=data_keys, pipeline=pipeline, registry=registry)

    with Measure() as measured_fit, progress(f"fitting {model_spec.name}"):
        instance.fit(view)
    with Measure() as measured_predict, progress("predicting"):
        prediction = instance.predict(view)
    with Measure() as measured_score, progress("scoring"):
        metrics, absent = contract.evaluate_with_reasons(prediction, truth, data_keys, model=instance)
    if truth is None:
        notes.setdefault("metrics", "no ground truth in the input; nothing to score")
    if absent:
        notes["metrics_absent"] = absent

    checksum = files_checksum(resolved.files) if resolved.files else data_checksum(original)
    result = RunResult(
        task=task,
        model=model_spec.name,
        plugin=model_spec.plugin,
        dataset=resolved.dataset.name if resolved.dataset else None,
        input=resolved.description,
        dataset_checksum=checksum,
        modalities=list(resolved.modalities) if resolved.modalities else None,
        metrics=metrics,
        fit_seconds=round(measured_fit.seconds, 4),
        predict_seconds=round(measured_predict.seconds, 4),
        score_seconds=round(measured_score.seconds, 4),
        peak_memory_mb=round(max(measured_fit.peak_memory_mb, measured_predict.peak_memory_mb), 1),
        peak_memory_scope=measured_fit.peak_scope,
        params=instance.get_params(),
        seed=seed,
        device=concrete_device,
        keys=data_keys.model_dump(),
        pipeline=[s.model_dump() for s in instance.pipeline],
        notes={**notes, **getattr(instance, "notes_", {})},
        training=_training_history(instance),
        versions=package_versions(),
        started_at=started,
    )
    from dance.core.run_outputs import finish_run

    if save_model is not None:
        with progress("saving the model"):
            result.model_dir = str(instance.save(save_model))
    return finish_run(
        result,
        contract,
        instance,
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
    )


def _training_history(model: Any) -> dict[str, dict[str, list[float]]]:
    """A deep model's per-epoch loss history (``training_history_``, set from its trainer), as plain floats."""
    history = getattr(model, "training_history_", None) or {}
    return {str(stage): {str(term): [float(v) for v in values] for term, values in terms.items()} for stage, terms in history.items()}
