"""Task ``modality_prediction``: predict one modality of a cell from another.

Input
    :class:`~dance.core.containers.Modalities` of paired cells (NeurIPS 2021 "predict
    modality"): ``mod1`` for every cell with ``obs['split']`` (``train``/``test``; a seeded
    80/20 split when absent), ``mod2`` for the training cells (or for every cell, when the truth
    of the test cells is known). The target is ``mod2.X`` as given (e.g. CLR-normalised protein).
    In the challenge layout (``--data mod1 --data2 train_mod2 --solution test_mod2``) the
    solution's test cells are added to ``mod2`` (without a split column, the cells of
    ``train_mod2`` are the training cells) by :func:`dance.core.data.solutions.merge_solution`.
Hold-out
    ``mod2`` of the test cells is removed from the copy the model sees; it is the truth. When
    ``mod2`` holds only the training cells (new cells to predict, no truth), the run predicts
    and scores nothing.
Prediction
    ``mod2`` values for every cell of ``mod1``: a cells x mod2-features matrix.
Output
    ``output_mod1.h5ad`` (the input ``mod1``) and ``output_mod2_pred.h5ad``: the prediction in
    ``X`` (obs of ``mod1``, var of ``mod2``), with ``obs['split']``.
Metrics (``fn(y_true, y_pred)`` on the test cells)
    ``rmse`` over every test cell x feature (the NeurIPS 2021 ranking metric, on the scale of
    ``mod2.X``) and ``pearson_per_feature``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dance.core.errors import DanceInputError
from dance.core.models.base import DanceModel
from dance.core.specs import FieldSpec, TaskSpec
from dance.core.tasks.base import TaskContract, ensure_split, matrix_shape_check

if TYPE_CHECKING:
    from anndata import AnnData

    from dance.core.containers import Modalities
    from dance.core.keys import DataKeys
    from dance.core.plotting.context import PlotContext

__all__ = ["SPEC", "ModalityPrediction", "ModalityPredictionModel", "PredictionTruth"]

SPEC = TaskSpec(
    name="modality_prediction",
    summary="Predict one modality (e.g. protein) of a cell from another (e.g. RNA)",
    target="dance.core.tasks.modality_prediction:ModalityPrediction",
    input_kind="modalities",
    roles=("mod1", "mod2"),
    inputs=(
        FieldSpec(role="mod1", slot="X", description="source modality of every cell"),
        FieldSpec(role="mod1", slot="obs", key="split", option="split_key", required=False, description="'train'/'test'"),
        FieldSpec(role="mod2", slot="X", description="target modality of the training cells"),
    ),
    outputs=(FieldSpec(role="mod2", slot="X", description="predicted target modality of every cell (output_mod2_pred.h5ad)"),),
    metrics=("rmse", "pearson_per_feature"),
)


class ModalityPredictionModel(DanceModel):
    """Base class: ``predict`` returns mod2 values for every cell of mod1."""

    task = "modality_prediction"

    def training_pairs(self, data: Modalities) -> tuple[AnnData, AnnData]:
        """``(mod1, mod2)`` of the training cells, aligned row by row."""
        return training_pairs(data, self.keys)


def training_pairs(data: Modalities, keys: DataKeys) -> tuple[AnnData, AnnData]:
    """Training cells of both modalities, aligned (mod2 may hold all cells or the training cells)."""
    mod1, mod2 = data.mod1, data.mod2
    train = mod1.obs_names
    if keys.split_key in mod1.obs.columns:
        train = mod1.obs_names[(mod1.obs[keys.split_key].astype(str) == "train").to_numpy()]
    return mod1[train].copy(), mod2[train].copy()


class PredictionTruth:
    """True mod2 values of the test cells and their positions among mod1's cells."""

    def __init__(self, positions: Any, values: Any) -> None:
        self.positions, self.values = positions, values


class ModalityPrediction(TaskContract):
    spec = SPEC
    model_base = ModalityPredictionModel

    def check(self, data: Modalities, keys: DataKeys, *, stage: str = "fit", needs_counts: bool = False) -> None:
        from dance.core import validation as v

        super().check(data, keys, stage=stage, needs_counts=needs_counts)
        split = v.require_split(data.mod1, keys, role="mod1", need_test=False)
        if stage == "predict":
            return
        if data.mod2.n_obs == data.mod1.n_obs:
            v.check_same_cells(data.mod1, data.mod2, data.names)
        elif split is not None:
            v.check_same_cells(data.mod1, data.mod2, data.names, subset=(split == "train").to_numpy())
        else:
            raise DanceInputError(
                f"{data.names[1]} has {data.mod2.n_obs} cells and {data.names[0]} {data.mod1.n_obs}, and mod1.obs['{keys.split_key}'] "
                "is absent: mod2 must hold every cell of mod1, or mod1 must mark the training cells that mod2 holds",
                field="mod2.obs_names",
            )

    def holdout(self, data: Modalities, keys: DataKeys, *, seed: int) -> tuple[Modalities, PredictionTruth | None]:
        import numpy as np
        import pandas as pd
        import scipy.sparse as sp

        from dance.core.containers import Modalities

        if data.mod2.n_obs != data.mod1.n_obs:
            # mod2 of the training cells only (mod1's split marks them): predict the test cells'
            # mod2 with nothing to score it against, the everyday use on new cells
            self.validate(data, keys, stage="evaluate")
            mod1 = data.mod1.copy()
            mod1.obs[keys.split_key] = pd.Categorical(mod1.obs[keys.split_key].astype(str), categories=["train", "test"])
            return Modalities(mod1, data.mod2.copy(), data.names), None
        self.validate(data, keys, stage="evaluate")
        split = ensure_split(data.mod1, keys, seed=seed, stratify=True, test_fraction=self.test_fraction)
        mod1 = data.mod1.copy()
        mod1.obs[keys.split_key] = pd.Categorical(split, categories=["train", "test"])
        test = np.flatnonzero(split == "test")
        target = data.mod2.X[test]
        truth = PredictionTruth(test, target.toarray() if sp.issparse(target) else np.asarray(target))
        mod2 = data.mod2[split == "train"].copy()
        return Modalities(mod1, mod2, data.names), truth

    def check_prediction(self, prediction: Any, data: Modalities, keys: DataKeys, *, model: DanceModel | None = None) -> Any:
        import numpy as np
        import scipy.sparse as sp

        matrix = matrix_shape_check(prediction, (data.mod1.n_obs, data.mod2.n_vars), "predicted mod2 matrix")
        return matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix, dtype=np.float32)

    def evaluation_inputs(
        self, prediction: Any, truth: PredictionTruth, keys: DataKeys, *, model: DanceModel | None = None
    ) -> tuple[Any, Any]:
        return truth.values, prediction[truth.positions]

    def store_prediction(self, data: Modalities, prediction: Any, keys: DataKeys, *, key: str, model: DanceModel | None = None) -> None:
        """``mod1.obsm[key]``: the predicted mod2 of every mod1 cell (a DataFrame, one column per
        mod2 feature)."""
        import pandas as pd

        data.mod1.obsm[key] = pd.DataFrame(prediction, index=data.mod1.obs_names, columns=data.mod2.var_names.astype(str))

    def write_output(
        self, data: Modalities, prediction: Any, keys: DataKeys, *, model_name: str, model: DanceModel | None = None
    ) -> dict[str, AnnData]:
        from anndata import AnnData

        predicted = AnnData(X=prediction, obs=data.mod1.obs.copy(), var=data.mod2.var.copy())
        predicted.uns["dance_model"] = model_name
        return {"output_mod1": data.mod1.copy(), "output_mod2_pred": predicted}

    def plot(
        self,
        outputs: dict[str, AnnData],
        prediction: Any,
        truth: PredictionTruth | None,
        keys: DataKeys,
        *,
        context: PlotContext,
        folder: Any,
    ) -> dict[str, Any]:
        """``predicted_vs_observed.png``: predicted against true values of every feature of the
        test cells (the entries the RMSE averages over), as a hexbin density with the y = x line."""
        from pathlib import Path

        from dance.core.plotting.regression import plot_predicted_vs_observed

        if truth is None:
            return {}
        observed, predicted = self.evaluation_inputs(prediction, truth, keys)
        target = context.modality_names[1]
        path = plot_predicted_vs_observed(
            observed,
            predicted,
            Path(folder) / "predicted_vs_observed.png",
            title=context.title("test cells"),
            xlabel=f"observed {target} value",
            ylabel=f"predicted {target} value",
            note=f"{observed.shape[0]:,} test cells x {observed.shape[1]:,} features",
        )
        return {"plot": path}
