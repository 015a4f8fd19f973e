"""Task ``cell_type_annotation``: label cells with the cell types learned from labelled cells.

Input
    One AnnData. ``obs['cell_type']`` holds the labels of the training cells;
    ``obs['split']`` marks cells ``train``/``test`` (a seeded stratified 80/20 split is made when
    it is absent). Expression in ``X`` (raw counts in ``layers['counts']`` or ``X`` for models
    that need them).
Input in two parts: reference and query
    The everyday workflow (``dance run cell_type_annotation --reference ref.h5ad --data
    query.h5ad``, or ``run(..., data=query, reference=ref)``): the two are combined into the
    one AnnData above by :func:`dance.core.data.reference_query.combine_reference_query`.
    Reference cells are the training cells, query cells the test cells (``obs['split']``); the
    labels are the reference's, and the query's own ``obs['cell_type']``, when present, is the
    hidden truth it is scored against (without it the query is annotated and nothing is
    scored). Genes are those both files hold, in the reference's order (at least 50); query
    cell names are kept and clashing reference names renamed; both files must hold
    expression on the same scale (raw counts next to normalised values is refused unless
    both have raw counts). Only the query cells are written to the output.
Hold-out
    The labels of the test cells are removed from the copy the model sees.
Prediction
    One label per cell (array of strings), for every cell of the input. A model may predict
    ``"unknown"`` for cells it rejects (e.g. singleCellNet's random class); they count as errors
    unless the true label is itself absent from the training labels and mapped to ``"unknown"``
    by the model's documented rule.
Output
    ``obs['<model>_pred']``; class probabilities in ``obsm['<model>_proba']`` for models that
    keep them (``probabilities_``).
Metrics (``fn(y_true, y_pred)`` on the test cells)
    ``accuracy``, ``macro_f1``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dance.core.models.base import DanceModel
from dance.core.specs import FieldSpec, TaskSpec
from dance.core.tasks.base import BrokenInput, LabelTruth, TaskContract, drop_obs_column, ensure_split, label_array, without_labels

if TYPE_CHECKING:
    from anndata import AnnData

    from dance.core.keys import DataKeys
    from dance.core.plotting.context import PlotContext

__all__ = ["SPEC", "CellTypeAnnotation", "CellTypeAnnotationModel"]

SPEC = TaskSpec(
    name="cell_type_annotation",
    summary="Assign cell types to unlabelled cells from labelled training cells",
    target="dance.core.tasks.cell_type_annotation:CellTypeAnnotation",
    input_kind="single",
    roles=("adata",),
    inputs=(
        FieldSpec(role="adata", slot="X", description="expression (raw counts for models that need them)"),
        FieldSpec(role="adata", slot="obs", key="cell_type", option="label_key", description="cell-type labels of the training cells"),
        FieldSpec(
            role="adata",
            slot="obs",
            key="split",
            option="split_key",
            required=False,
            description="'train'/'test'; seeded stratified split if absent",
        ),
    ),
    outputs=(FieldSpec(role="adata", slot="obs", key="{model}_pred", description="predicted cell type"),),
    metrics=("accuracy", "macro_f1"),
)


class CellTypeAnnotationModel(DanceModel):
    """Base class of annotation models: ``predict`` returns one label per cell.

    ``_fit`` receives the preprocessed data of all cells; train on :meth:`train_mask` cells.
    """

    task = "cell_type_annotation"

    def train_mask(self, adata: AnnData) -> Any:
        """Boolean mask of labelled training cells (all labelled cells when there is no split)."""
        import numpy as np

        mask = adata.obs[self.keys.label_key].notna().to_numpy()
        if self.keys.split_key in adata.obs.columns:
            mask &= (adata.obs[self.keys.split_key].astype(str) == "train").to_numpy()
        return np.asarray(mask)


class CellTypeAnnotation(TaskContract):
    spec = SPEC
    model_base = CellTypeAnnotationModel

    def check(self, data: AnnData, keys: DataKeys, *, stage: str = "fit", needs_counts: bool = False) -> None:
        from dance.core import validation as v

        super().check(data, keys, stage=stage, needs_counts=needs_counts)
        split = v.require_split(data, keys, need_test=stage == "evaluate")
        if stage in ("fit", "evaluate"):
            train = None if split is None else (split == "train").to_numpy()
            v.require_labels(data, keys, min_classes=2, subset=train)

    def holdout(self, data: AnnData, keys: DataKeys, *, seed: int) -> tuple[AnnData, LabelTruth | None]:
        import pandas as pd

        self.validate(data, keys, stage="evaluate")
        split = ensure_split(data, keys, seed=seed, stratify=True, test_fraction=self.test_fraction)
        test = split == "test"
        view = data.copy()
        view.obs[keys.split_key] = pd.Categorical(split, categories=["train", "test"])
        labels = view.obs[keys.label_key].astype(object)
        truth = LabelTruth.from_column(labels.to_numpy(), test)
        hidden = labels.copy()
        hidden[test] = None
        view.obs[keys.label_key] = pd.Categorical(hidden)
        return view, truth

    def holdout_for_prediction(self, data: AnnData, keys: DataKeys, *, seed: int) -> tuple[AnnData, LabelTruth | None]:
        """A saved classifier annotates every cell; the labels, when present, are removed from the
        view and every labelled cell is scored."""
        return without_labels(data, keys.label_key)

    def check_prediction(self, prediction: Any, data: AnnData, keys: DataKeys, *, model: DanceModel | None = None) -> Any:
        return label_array(prediction, data.n_obs, "cell-type prediction").astype(str).astype(object)

    def evaluation_inputs(self, prediction: Any, truth: LabelTruth, keys: DataKeys, *, model: DanceModel | None = None) -> tuple[Any, Any]:
        return truth.pair(prediction)

    def store_prediction(self, data: AnnData, prediction: Any, keys: DataKeys, *, key: str, model: DanceModel | None = None) -> None:
        """``obs[key]``: the predicted cell type; ``obsm['<key>_proba']``: class probabilities
        (a DataFrame, one column per type) for models that give them."""
        import pandas as pd

        data.obs[key] = pd.Categorical(prediction)
        probabilities = getattr(model, "probabilities_", None)
        if isinstance(probabilities, pd.DataFrame) and probabilities.shape[0] == data.n_obs:
            data.obsm[f"{key}_proba"] = probabilities.set_axis(data.obs_names)

    def write_output(
        self, data: AnnData, prediction: Any, keys: DataKeys, *, model_name: str, model: DanceModel | None = None
    ) -> dict[str, AnnData]:
        import pandas as pd

        out = data.copy()
        out.obs[f"{model_name}_pred"] = pd.Categorical(prediction)
        probabilities = getattr(model, "probabilities_", None)
        if isinstance(probabilities, pd.DataFrame) and probabilities.shape[0] == out.n_obs:
            out.obsm[f"{model_name}_proba"] = probabilities.set_axis(out.obs_names)
        return {"output": out}

    def plot(
        self, outputs: dict[str, AnnData], prediction: Any, truth: LabelTruth | None, keys: DataKeys, *, context: PlotContext, folder: Any
    ) -> dict[str, Any]:
        """``confusion_matrix.png``: the row-normalised confusion matrix of the test cells (true
        class per row, with its cell count). Without true labels (an unlabelled query),
        ``predicted_classes.png``: how many test cells each class received."""
        from pathlib import Path

        from dance.core.plotting.confusion import plot_class_counts, plot_confusion_matrix

        if truth is not None:
            y_true, y_pred = truth.pair(prediction)
            path = plot_confusion_matrix(y_true, y_pred, Path(folder) / "confusion_matrix.png", title=context.title("test cells"))
            return {"plot": path}
        out = outputs["output"]
        predicted = out.obs[f"{context.model}_pred"].astype(str)
        if keys.split_key in out.obs.columns and (out.obs[keys.split_key].astype(str) == "test").any():
            predicted = predicted[(out.obs[keys.split_key].astype(str) == "test").to_numpy()]
        path = plot_class_counts(predicted.to_numpy(), Path(folder) / "predicted_classes.png", title=context.title("test cells"))
        return {"plot": path}

    def broken_inputs(self, data: AnnData, keys: DataKeys) -> list[BrokenInput]:
        copy = data.copy()
        drop_obs_column(copy, keys.label_key)
        return [BrokenInput("label column removed", copy, f"obs['{keys.label_key}']"), *super().broken_inputs(data, keys)]
