"""Task ``imputation``: recover expression values lost to dropout.

Input
    One AnnData with raw counts (``layers['counts']`` or ``X``).
Hold-out
    A seeded ``mask_fraction`` (10 %) of the non-zero count entries is set to zero in the copy
    the model sees (in ``X`` and the counts layer); their true values are the truth.
Prediction
    The imputed matrix, cells x genes, on the count scale of the input (dense or sparse).
Output
    ``layers['<model>_imputed']``.
Metrics (``fn(true_values, imputed_values)`` on the held-out entries, both log1p-transformed)
    ``mse``, ``pearson``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dance.core.models.base import DanceModel
from dance.core.specs import FieldSpec, TaskSpec
from dance.core.tasks.base import TaskContract, matrix_shape_check

if TYPE_CHECKING:
    from anndata import AnnData

    from dance.core.keys import DataKeys
    from dance.core.plotting.context import PlotContext

__all__ = ["SPEC", "HeldOutEntries", "Imputation", "ImputationModel"]

SPEC = TaskSpec(
    name="imputation",
    summary="Recover dropped-out expression values (scored on held-out entries)",
    target="dance.core.tasks.imputation:Imputation",
    input_kind="single",
    roles=("adata",),
    inputs=(
        FieldSpec(role="adata", slot="layers", key="counts", option="counts_layer", description="raw counts (or X when it holds counts)"),
    ),
    outputs=(FieldSpec(role="adata", slot="layers", key="{model}_imputed", description="imputed values, count scale"),),
    metrics=("mse", "pearson"),
)


class ImputationModel(DanceModel):
    """Base class of imputation models: ``predict`` returns the imputed cells x genes matrix."""

    task = "imputation"
    needs_counts = True


class HeldOutEntries:
    """Row, column and true count of each held-out entry."""

    def __init__(self, rows: Any, cols: Any, values: Any) -> None:
        self.rows, self.cols, self.values = rows, cols, values

    def pair(self, imputed: Any) -> tuple[Any, Any]:
        import numpy as np
        import scipy.sparse as sp

        if sp.issparse(imputed):
            predicted = np.asarray(imputed.tocsr()[self.rows, self.cols]).ravel()
        else:
            predicted = np.asarray(imputed)[self.rows, self.cols]
        return np.log1p(self.values.astype(float)), np.log1p(np.clip(predicted.astype(float), 0, None))


class Imputation(TaskContract):
    spec = SPEC
    model_base = ImputationModel
    mask_fraction = 0.1

    def check(self, data: AnnData, keys: DataKeys, *, stage: str = "fit", needs_counts: bool = False) -> None:
        super().check(data, keys, stage=stage, needs_counts=True)

    def holdout(self, data: AnnData, keys: DataKeys, *, seed: int) -> tuple[AnnData, HeldOutEntries]:
        import numpy as np
        import scipy.sparse as sp

        from dance.core import validation as v

        self.validate(data, keys, stage="evaluate")
        counts = sp.csr_matrix(v.counts_matrix(data, keys), dtype=np.float32, copy=True)
        counts.sum_duplicates()
        counts.eliminate_zeros()
        # in canonical CSR, nonzero() lists entries in the order of .data
        rows, cols = counts.nonzero()
        rng = np.random.default_rng(seed)
        n_mask = max(1, round(self.mask_fraction * counts.nnz))
        chosen = np.sort(rng.choice(counts.nnz, size=n_mask, replace=False))
        truth = HeldOutEntries(rows[chosen], cols[chosen], counts.data[chosen].copy())
        masked = counts.copy()
        masked.data[chosen] = 0
        masked.eliminate_zeros()
        view = data.copy()
        view.X = masked
        view.layers[keys.counts_layer] = masked.copy()
        return view, truth

    def check_prediction(self, prediction: Any, data: AnnData, keys: DataKeys, *, model: DanceModel | None = None) -> Any:
        return matrix_shape_check(prediction, (data.n_obs, data.n_vars), "imputed matrix")

    def evaluation_inputs(
        self, prediction: Any, truth: HeldOutEntries, keys: DataKeys, *, model: DanceModel | None = None
    ) -> tuple[Any, Any]:
        return truth.pair(prediction)

    def store_prediction(self, data: AnnData, prediction: Any, keys: DataKeys, *, key: str, model: DanceModel | None = None) -> None:
        """``layers[key]``: the imputed matrix."""
        data.layers[key] = prediction

    def write_output(
        self, data: AnnData, prediction: Any, keys: DataKeys, *, model_name: str, model: DanceModel | None = None
    ) -> dict[str, AnnData]:
        out = data.copy()
        out.layers[f"{model_name}_imputed"] = prediction
        return {"output": out}

    def plot(
        self,
        outputs: dict[str, AnnData],
        prediction: Any,
        truth: HeldOutEntries | None,
        keys: DataKeys,
        *,
        context: PlotContext,
        folder: Any,
    ) -> dict[str, Any]:
        """``imputed_vs_observed.png``: imputed against true values of the held-out entries on
        the scale the metrics use (log1p of counts), as a hexbin density with the y = x line."""
        from pathlib import Path

        from dance.core.plotting.regression import plot_predicted_vs_observed

        if truth is None:
            return {}
        observed, imputed = truth.pair(prediction)
        path = plot_predicted_vs_observed(
            observed,
            imputed,
            Path(folder) / "imputed_vs_observed.png",
            title=context.title("held-out entries"),
            xlabel="held-out true value, log1p(count)",
            ylabel="imputed value, log1p(count)",
            note=f"{len(observed):,} held-out entries (zeroed in the model's input)"
            + (f"; Pearson r {context.metrics['pearson']:.3f}" if "pearson" in context.metrics else ""),
        )
        return {"plot": path}
