"""Task ``imputation``: recover expression values lost to dropout.

Input
    One AnnData with raw counts (``layers['counts']`` or ``X``): non-negative integers, no gene
    without counts, and at least one cell with more than ``min_nonzero`` (5) non-zero entries.
Hold-out (DANCE's ``CellwiseMaskData(distr="exp", mask_rate=0.1, min_gene_counts=5)``)
    In every cell with more than 5 non-zero counts, ``floor(0.1 * non-zeros of the cell)`` of
    its non-zero entries (at least 1) are zeroed, drawn without replacement with probability
    proportional to ``scipy.stats.expon.pdf(log1p(count), 0, scale=20)`` (small values are
    favoured; DANCE evaluates the density on log1p values, which its DeepImpute and GraphSCI
    pipelines hold at that point). ``Imputation.mask_distribution = "uniform"`` (or
    ``holdout(..., distribution="uniform")``) draws them uniformly instead; cells with 5 or fewer
    non-zeros hold nothing out. The protocol is recorded in ``result.json``
    (``notes['holdout']``) and in :attr:`HeldOutEntries.protocol`.
View
    The masked counts only, in ``X`` and ``layers['counts']``. Nothing computed from the unmasked
    data stays: other layers, ``obsm``, ``varm``, ``obsp``, ``varp``, ``uns`` and the numeric or
    boolean ``obs`` / ``var`` columns (totals, ``highly_variable``, ...) are dropped, and so is
    the label column (the truth keeps it for the downstream check).
Prediction
    The imputed matrix, cells x genes, on the count scale of the input (dense or sparse).
Output
    ``layers['<model>_imputed']``.
Metrics (``fn(truth, evaluation)``, :mod:`dance.core.metrics.imputation`)
    On the held-out entries only, comparing ``log1p(imputed)`` (negative values clipped to 0)
    with ``log1p(true count)``: ``mse``, ``rmse``, ``pearson``, ``median_l1`` (scGNN's median
    L1 error, log variant), ``cosine`` (per cell, mean over cells with >= 2 held-out entries).
    Downstream: ``ari_imputed`` / ``ari_masked``, the ARI with ``obs['cell_type']`` of Leiden
    clusters (at the resolution giving the number of labelled types) of the imputed and of the
    masked matrix, and ``ari_gain`` = their difference (absent without labels).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from dance.core.errors import DanceInputError
from dance.core.models.base import DanceModel
from dance.core.specs import FieldSpec, TaskSpec
from dance.core.tasks.base import TaskContract, matrix_shape_check

if TYPE_CHECKING:
    from anndata import AnnData

    from dance.core.keys import DataKeys
    from dance.core.plotting.context import PlotContext

__all__ = ["SPEC", "HeldOutEntries", "Imputation", "ImputationModel", "cellwise_mask"]

Distribution = Literal["exp", "uniform"]

SPEC = TaskSpec(
    name="imputation",
    summary="Recover dropped-out expression values (scored on held-out entries)",
    target="dance.core.tasks.imputation:Imputation",
    input_kind="single",
    roles=("adata",),
    inputs=(
        FieldSpec(role="adata", slot="layers", key="counts", option="counts_layer", description="raw counts (or X when it holds counts)"),
        FieldSpec(
            role="adata",
            slot="obs",
            key="cell_type",
            option="label_key",
            required=False,
            description="cell types, for the downstream clustering check (ari_*); never shown to the model",
        ),
    ),
    outputs=(FieldSpec(role="adata", slot="layers", key="{model}_imputed", description="imputed values, count scale"),),
    metrics=("mse", "rmse", "pearson", "median_l1", "cosine", "ari_imputed", "ari_masked", "ari_gain"),
)


class ImputationModel(DanceModel):
    """Base class of imputation models: ``predict`` returns the imputed cells x genes matrix."""

    task = "imputation"
    needs_counts = True


class HeldOutEntries:
    """Row, column and true count of each held-out entry (in the order of the CSR matrix).

    ``masked`` (the counts the model saw, CSR), ``labels`` (cell type per cell, None where
    unknown; None without a label column) and ``protocol`` (how the entries were drawn) are
    optional, so a truth built from the three arrays alone still scores the entry metrics.
    """

    def __init__(
        self,
        rows: Any,
        cols: Any,
        values: Any,
        *,
        masked: Any | None = None,
        labels: Any | None = None,
        protocol: dict[str, Any] | None = None,
    ) -> None:
        self.rows, self.cols, self.values = rows, cols, values
        #: the masked counts the model was given (cells x genes CSR), for the downstream check
        self.masked = masked
        #: cell type of every cell (None for unlabelled cells), or None without labels
        self.labels = labels
        #: the hold-out settings and counts (recorded in ``result.json`` as ``notes['holdout']``)
        self.protocol = dict(protocol or {})
        #: scoring caches that depend on the truth only (the masked matrix's clusters)
        self.cache: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self.values)

    def pair(self, imputed: Any) -> tuple[Any, Any]:
        """``(log1p(true), log1p(imputed))`` of the held-out entries (negative imputed values count as 0)."""
        import numpy as np
        import scipy.sparse as sp

        if sp.issparse(imputed):
            predicted = np.asarray(sp.csr_matrix(imputed)[self.rows, self.cols]).ravel()
        else:
            predicted = np.asarray(imputed)[self.rows, self.cols]
        return np.log1p(np.asarray(self.values, dtype=np.float64)), np.log1p(np.clip(predicted.astype(np.float64), 0, None))


def cellwise_mask(
    counts: Any,
    *,
    seed: int,
    fraction: float = 0.1,
    min_nonzero: int = 5,
    distribution: Distribution = "exp",
    exp_scale: float = 20.0,
    value_scale: Literal["log1p", "counts"] = "log1p",
) -> Any:
    """Positions in ``counts.data`` (a canonical CSR matrix without explicit zeros) of the entries
    to hold out, sorted.

    Each row with more than ``min_nonzero`` non-zeros holds out ``max(1, floor(fraction * nnz))``
    of them, drawn without replacement with probability proportional to
    ``expon.pdf(value, 0, exp_scale)`` of the entry's value (``log1p(count)`` or the count), or
    uniformly. Vectorised over rows with the Efraimidis-Spirakis keys ``u ** (1 / w)``: the
    ``k`` largest keys of a row are a weighted sample without replacement (the same law as
    drawing one entry at a time, as ``numpy.random.choice(p=..., replace=False)`` does). Keys
    are compared as ``log(-log u) - log w``, smallest first, which no weight can underflow.
    """
    import numpy as np

    if distribution not in ("exp", "uniform"):
        raise DanceInputError(f"mask distribution must be 'exp' or 'uniform'; got {distribution!r}", field="distribution")
    if value_scale not in ("log1p", "counts"):
        raise DanceInputError(f"mask value scale must be 'log1p' or 'counts'; got {value_scale!r}", field="value_scale")
    nnz = np.diff(counts.indptr).astype(np.int64)
    n_mask = np.where(nnz > min_nonzero, np.maximum(1, np.floor(fraction * nnz + 1e-9).astype(np.int64)), 0)
    rows = np.repeat(np.arange(len(nnz), dtype=np.int64), nnz)
    if counts.nnz == 0:
        return np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(seed)
    # -log(u) ~ Exp(1); log(-log u) - log w orders entries as u ** (1 / w) does, in reverse
    keys = np.log(np.maximum(rng.standard_exponential(counts.nnz), np.finfo(np.float64).tiny))
    if distribution == "exp":
        values = np.asarray(counts.data, dtype=np.float64)
        values = np.log1p(values) if value_scale == "log1p" else values
        keys += values / exp_scale  # -log w = value / scale + log(scale), a constant
    # by row (CSR order kept), then by key within the row: one argsort of row * span + key, 10x
    # faster than np.lexsort on 16 M entries
    low = keys.min()
    span = keys.max() - low + 1.0
    order = np.argsort(rows * span + (keys - low))
    rank = np.arange(counts.nnz, dtype=np.int64) - np.repeat(counts.indptr[:-1].astype(np.int64), nnz)
    return np.sort(order[rank < n_mask[rows]])


class Imputation(TaskContract):
    spec = SPEC
    model_base = ImputationModel
    #: share of the non-zero entries of an eligible cell that is held out (rounded down, at least 1)
    mask_fraction: ClassVar[float] = 0.1
    #: cells with at most this many non-zero entries hold nothing out
    min_nonzero: ClassVar[int] = 5
    #: ``"exp"``: entries drawn with probability proportional to ``expon.pdf(value, 0, exp_scale)``
    #: (DANCE's default); ``"uniform"``: every non-zero entry of the cell equally likely. Set it on
    #: the contract (``registry.contract("imputation").mask_distribution = "uniform"``) to change
    #: what runs hold out; ``notes['holdout']`` records it.
    mask_distribution: ClassVar[Distribution] = "exp"
    exp_scale: ClassVar[float] = 20.0
    #: the scale the exponential density reads: ``log1p`` of the counts, as DANCE's DeepImpute /
    #: GraphSCI pipelines mask after their log1p transform (``counts`` would favour small values
    #: much more strongly: a count of 20 weighs 0.37 of a count of 0 instead of 0.86)
    exp_value_scale: ClassVar[Literal["log1p", "counts"]] = "log1p"

    def check(self, data: AnnData, keys: DataKeys, *, stage: str = "fit", needs_counts: bool = False) -> None:
        """Raw counts at every stage; to hold entries out (``stage="evaluate"``) also no gene
        without counts and at least one cell with more than ``min_nonzero`` non-zeros."""
        import numpy as np
        import scipy.sparse as sp

        from dance.core import validation as v

        super().check(data, keys, stage=stage, needs_counts=True)
        if stage != "evaluate":
            return  # a hold-out view may legitimately have genes whose every count was held out
        where = v.counts_location(data, keys)
        counts = sp.csr_matrix(data.X if where == "X" else data.layers[keys.counts_layer])
        detected = counts != 0
        per_cell = np.asarray(detected.sum(axis=1)).ravel()
        if not (per_cell > self.min_nonzero).any():
            raise DanceInputError(
                f"{where} has no cell with more than {self.min_nonzero} non-zero counts (the most is {int(per_cell.max())}): "
                f"the hold-out masks {self.mask_fraction:.0%} of the non-zeros of such cells only, so nothing could be held out",
                field=where,
            )
        empty = np.flatnonzero(np.asarray(detected.sum(axis=0)).ravel() == 0)
        if len(empty):
            examples = ", ".join(repr(str(g)) for g in data.var_names[empty[:3]])
            raise DanceInputError(
                f"{where} has {len(empty)} gene(s) with no counts in any cell (e.g. {examples}); imputation holds out and "
                "scores non-zero counts, so every gene needs some: remove them first "
                "(sc.pp.filter_genes(adata, min_cells=1))",
                field=where,
            )

    def protocol(self, data: AnnData, keys: DataKeys, *, distribution: Distribution | None = None) -> dict[str, Any]:
        """The hold-out settings and how many entries and cells they hold out of ``data`` (the
        counts do not depend on the seed)."""
        import numpy as np
        import scipy.sparse as sp

        from dance.core import validation as v

        distribution = distribution or self.mask_distribution
        nnz = np.diff(sp.csr_matrix(v.counts_matrix(data, keys)).indptr)
        eligible = nnz > self.min_nonzero
        n_mask = np.maximum(1, np.floor(self.mask_fraction * nnz + 1e-9).astype(np.int64))
        record: dict[str, Any] = {
            "protocol": "cellwise",
            "fraction": self.mask_fraction,
            "rounding": "floor, at least 1 per cell",
            "min_nonzero": self.min_nonzero,
            "distribution": distribution,
        }
        if distribution == "exp":
            record.update(
                density=f"expon.pdf({self.exp_value_scale}(count), 0, scale={self.exp_scale:g})", value_scale=self.exp_value_scale
            )
        record.update(cells_masked=int(eligible.sum()), entries_held_out=int(n_mask[eligible].sum()))
        return record

    def holdout(
        self, data: AnnData, keys: DataKeys, *, seed: int, distribution: Distribution | None = None
    ) -> tuple[AnnData, HeldOutEntries]:
        """The masked counts (``X`` and the counts layer) and the held-out entries; ``distribution``
        overrides :attr:`mask_distribution` for this call."""
        import numpy as np
        import pandas as pd
        import scipy.sparse as sp
        from anndata import AnnData

        from dance.core import validation as v

        self.validate(data, keys, stage="evaluate", needs_counts=True)
        distribution = distribution or self.mask_distribution
        counts = sp.csr_matrix(v.counts_matrix(data, keys), dtype=np.float32, copy=True)
        counts.sum_duplicates()
        counts.eliminate_zeros()
        counts.sort_indices()
        chosen = cellwise_mask(
            counts,
            seed=seed,
            fraction=self.mask_fraction,
            min_nonzero=self.min_nonzero,
            distribution=distribution,
            exp_scale=self.exp_scale,
            value_scale=self.exp_value_scale,
        )
        rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
        masked = counts.copy()
        masked.data[chosen] = 0
        masked.eliminate_zeros()
        labels = None
        if keys.label_key in data.obs.columns:
            column = data.obs[keys.label_key]
            labels = np.where(column.notna().to_numpy(), column.astype(str).to_numpy(), None).astype(object)
        protocol = self.protocol(data, keys, distribution=distribution)
        truth = HeldOutEntries(
            rows[chosen],
            counts.indices[chosen].astype(np.int64),
            counts.data[chosen].copy(),
            masked=masked,
            labels=labels,
            protocol=protocol,
        )

        def metadata(frame: pd.DataFrame, drop: str | None = None) -> pd.DataFrame:
            # string and categorical columns only: numeric / boolean ones (totals, highly_variable,
            # size factors) may have been computed from the unmasked counts
            kept = [c for c in frame.columns if c != drop and (frame[c].dtype == object or isinstance(frame[c].dtype, pd.CategoricalDtype))]
            return frame[kept].copy()

        view = AnnData(X=masked.copy(), obs=metadata(data.obs, keys.label_key), var=metadata(data.var))
        view.layers[keys.counts_layer] = masked.copy()
        return view, truth

    def suggest_params(
        self, model_cls: type[DanceModel], data: AnnData, keys: DataKeys, params: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """No parameters; the hold-out protocol as ``notes['holdout']`` (it goes into ``result.json``)."""
        return params, {"holdout": self.protocol(data, keys)}

    def check_prediction(self, prediction: Any, data: AnnData, keys: DataKeys, *, model: DanceModel | None = None) -> Any:
        return matrix_shape_check(prediction, (data.n_obs, data.n_vars), "imputed matrix")

    def evaluation_inputs(
        self, prediction: Any, truth: HeldOutEntries, keys: DataKeys, *, model: DanceModel | None = None
    ) -> tuple[Any, Any]:
        """``(truth, ImputationEvaluation)``: the metrics read the held-out values on log1p scale
        from the evaluation and the masked matrix and labels from the truth."""
        from dance.core.metrics.imputation import ImputationEvaluation

        return truth, ImputationEvaluation(truth, prediction)

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
