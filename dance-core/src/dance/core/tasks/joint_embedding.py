"""Task ``joint_embedding``: one low-dimensional embedding of cells measured in two modalities.

Input
    :class:`~dance.core.containers.Modalities` of paired cells (same cells, same order).
    ``mod1.obs['cell_type']`` (optional) is hidden from the model and used as truth. In the
    challenge layout the cell types come from a solution file (``--solution``), joined onto
    ``mod1`` by cell name (:func:`dance.core.data.solutions.merge_solution`).
Prediction
    The joint embedding, cells x dims.
Output
    ``obsm['X_<model>']`` in ``output_mod1.h5ad`` and ``output_mod2.h5ad``.
Hold-out
    The cell types, and the pseudotimes (``obs['pseudotime_order_*']``) and cell-cycle scores
    (``S_score``, ``G2M_score``) the challenge kept in its solution, are removed from the view.
    Batches (``obs['batch']``) stay: the challenge gave them to the methods.
Training labels
    Models that train on cell types (scMoGCN, JAE; ``training_label_fraction`` set) get the
    labels of a seeded fraction of the cells in ``obs['known_<label_key>']`` of both modalities
    (``dance run --reveal-labels FRACTION``, default the model's fraction), as the challenge gave
    its methods the labelled exploration cells. The metrics are then computed over the other
    cells only, whose labels no model saw; give every model of a comparison the same fraction
    so that all are scored on the same cells.
Metrics (``fn(truth, evaluation)``), the NeurIPS 2021 joint-embedding task's six and their mean
    ``nmi`` (Leiden clusters at the NMI-optimal resolution vs cell types; the challenge used
    Louvain), ``asw_label``, ``asw_batch``, ``graph_conn``, ``cc_cons`` (cell-cycle variance
    kept, from the expression modality), ``ti_cons`` (trajectory conservation, when the input
    has pseudotimes), ``overall`` = the mean of those six that the data allow (the result's
    notes say which are absent and why), and ``ari`` of the same clustering (not in the mean).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dance.core.errors import DanceInputError
from dance.core.models.base import DanceModel
from dance.core.specs import FieldSpec, TaskSpec
from dance.core.tasks.base import LabelTruth, TaskContract, drop_obs_column

if TYPE_CHECKING:
    from anndata import AnnData

    from dance.core.containers import Modalities
    from dance.core.keys import DataKeys
    from dance.core.plotting.context import PlotContext

__all__ = ["SPEC", "JointEmbedding", "JointEmbeddingModel", "log_expression"]

SPEC = TaskSpec(
    name="joint_embedding",
    summary="Embed cells measured in two modalities into one low-dimensional space",
    target="dance.core.tasks.joint_embedding:JointEmbedding",
    input_kind="modalities",
    roles=("mod1", "mod2"),
    inputs=(
        FieldSpec(role="mod1", slot="X", description="first modality"),
        FieldSpec(role="mod2", slot="X", description="second modality, same cells (paired)"),
        FieldSpec(role="mod1", slot="obs", key="cell_type", option="label_key", required=False, description="cell types, for evaluation"),
    ),
    outputs=(FieldSpec(role="mod1", slot="obsm", key="X_{model}", description="joint embedding"),),
    metrics=("nmi", "asw_label", "asw_batch", "graph_conn", "cc_cons", "ti_cons", "overall", "ari"),
)

#: the challenge's six metrics, averaged into ``overall``
CHALLENGE_METRICS = ("nmi", "asw_label", "asw_batch", "graph_conn", "cc_cons", "ti_cons")
#: obs columns the challenge kept in its solution (truth, hidden from the model) besides the labels
HIDDEN_PREFIXES = ("pseudotime_order_",)
HIDDEN_COLUMNS = ("S_score", "G2M_score")
EXPRESSION_TYPES = ("GEX", "GENE EXPRESSION", "RNA")


class JointEmbeddingTruth(LabelTruth):
    """Cell types of the labelled cells, plus what the challenge's other metrics need: batches,
    the expression before embedding (cell-cycle conservation) and pseudotimes (trajectories)."""

    def __init__(
        self,
        positions: Any,
        labels: Any,
        *,
        batch: Any | None = None,
        expression: Any | None = None,
        genes: Any | None = None,
        pseudotimes: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(positions, labels)
        self.batch, self.expression, self.genes = batch, expression, genes
        self.pseudotimes = pseudotimes or {}

    def subset(self, keep: Any) -> JointEmbeddingTruth:
        """The truth of the evaluated cells where ``keep`` (a boolean mask over them) holds."""
        import numpy as np

        keep = np.asarray(keep, dtype=bool)
        return JointEmbeddingTruth(
            np.asarray(self.positions)[keep],
            np.asarray(self.labels)[keep],
            batch=None if self.batch is None else np.asarray(self.batch)[keep],
            expression=None if self.expression is None else self.expression[keep],
            genes=self.genes,
            pseudotimes={name: np.asarray(values)[keep] for name, values in self.pseudotimes.items()},
        )


class JointEmbeddingModel(DanceModel):
    """Base class: ``predict`` returns one embedding row per cell."""

    task = "joint_embedding"


class JointEmbedding(TaskContract):
    spec = SPEC
    model_base = JointEmbeddingModel

    def check(self, data: Modalities, keys: DataKeys, *, stage: str = "fit", needs_counts: bool = False) -> None:
        from dance.core import validation as v

        super().check(data, keys, stage=stage, needs_counts=needs_counts)
        v.check_same_cells(data.mod1, data.mod2, data.names)

    def holdout(self, data: Modalities, keys: DataKeys, *, seed: int) -> tuple[Modalities, JointEmbeddingTruth | None]:
        import numpy as np

        self.validate(data, keys, stage="evaluate")
        view = data.copy()
        labels = None
        pseudotimes: dict[str, Any] = {}
        for adata in (view.mod1, view.mod2):
            if labels is None and keys.label_key in adata.obs.columns:
                labels = LabelTruth.from_column(adata.obs[keys.label_key].astype(object).to_numpy())
            drop_obs_column(adata, keys.label_key)
            for column in list(adata.obs.columns):
                if column.startswith(HIDDEN_PREFIXES):
                    pseudotimes.setdefault(column, adata.obs[column].to_numpy(dtype=np.float64))
                if column.startswith(HIDDEN_PREFIXES) or column in HIDDEN_COLUMNS:
                    drop_obs_column(adata, column)
        if labels is None:
            return view, None
        positions = labels.positions
        batch = None
        if keys.batch_key in data.mod1.obs.columns:
            batch = data.mod1.obs[keys.batch_key].astype(str).to_numpy()[positions]
        expression, genes = log_expression(data)
        return view, JointEmbeddingTruth(
            positions,
            labels.labels,
            batch=batch,
            expression=None if expression is None else expression[positions],
            genes=genes,
            pseudotimes={name: values[positions] for name, values in pseudotimes.items()},
        )

    def reveal_labels(self, view: Modalities, truth: Any, keys: DataKeys, *, fraction: float, seed: int) -> dict[str, Any]:
        """Write the labels of a seeded ``fraction`` of the labelled cells into
        ``obs['known_<label_key>']`` of both modalities (the rest missing); the metrics are then
        computed over the cells whose labels stay hidden."""
        import numpy as np
        import pandas as pd

        if not 0 < fraction < 1:
            raise DanceInputError(f"--reveal-labels must be a fraction between 0 and 1; got {fraction}", field="--reveal-labels")
        if truth is None:
            raise DanceInputError(
                f"--reveal-labels needs cell types, but obs['{keys.label_key}'] is missing; pass --label-key to name the label column",
                field=f"obs['{keys.label_key}']",
            )
        rng = np.random.default_rng(seed)
        n_revealed = max(1, round(fraction * len(truth)))
        if n_revealed >= len(truth):
            raise DanceInputError(f"--reveal-labels {fraction} leaves no cell to score among {len(truth)}", field="--reveal-labels")
        chosen = np.zeros(len(truth), dtype=bool)
        chosen[rng.choice(len(truth), size=n_revealed, replace=False)] = True
        known = np.full(view.mod1.n_obs, None, dtype=object)
        known[np.asarray(truth.positions)[chosen]] = np.asarray(truth.labels)[chosen]
        column = f"known_{keys.label_key}"
        for adata in (view.mod1, view.mod2):
            adata.obs[column] = pd.Categorical(known)
        truth.revealed = chosen
        return {
            "revealed_labels": f"the cell types of {n_revealed} of {len(truth)} cells shown to the model in obs['{column}']; "
            f"metrics over the other {len(truth) - n_revealed} cells"
        }

    def evaluate_with_reasons(
        self, prediction: Any, truth: Any, keys: DataKeys, *, model: DanceModel | None = None
    ) -> tuple[dict[str, float], dict[str, str]]:
        """The challenge's metrics, over the cells whose labels the model never saw when some were
        revealed (:meth:`reveal_labels`), else over every labelled cell."""
        if truth is not None and getattr(truth, "revealed", None) is not None:
            truth = truth.subset(~truth.revealed)
        return super().evaluate_with_reasons(prediction, truth, keys, model=model)

    def check_prediction(self, prediction: Any, data: Modalities, keys: DataKeys, *, model: DanceModel | None = None) -> Any:
        return embedding_array(prediction, data.mod1.n_obs, "joint embedding")

    def evaluation_inputs(self, prediction: Any, truth: LabelTruth, keys: DataKeys, *, model: DanceModel | None = None) -> tuple[Any, Any]:
        from dance.core.metrics.scib_metrics import EmbeddingEvaluation

        return truth, EmbeddingEvaluation(
            prediction[truth.positions],
            labels=truth.labels,
            batch=getattr(truth, "batch", None),
            seed=getattr(model, "seed", 0),
            expression=getattr(truth, "expression", None),
            genes=getattr(truth, "genes", None),
            pseudotimes=getattr(truth, "pseudotimes", None),
        )

    def aggregate(self, metrics: dict[str, float]) -> dict[str, float]:
        """``overall``: the mean of the challenge's six metrics that could be computed."""
        import numpy as np

        available = [metrics[m] for m in CHALLENGE_METRICS if m in metrics]
        if available:
            metrics["overall"] = float(np.mean(available))
        return metrics

    def store_prediction(self, data: Modalities, prediction: Any, keys: DataKeys, *, key: str, model: DanceModel | None = None) -> None:
        """``obsm[key]`` of both modalities: the joint embedding."""
        data.mod1.obsm[key] = prediction
        data.mod2.obsm[key] = prediction

    def write_output(
        self, data: Modalities, prediction: Any, keys: DataKeys, *, model_name: str, model: DanceModel | None = None
    ) -> dict[str, AnnData]:
        mod1, mod2 = data.mod1.copy(), data.mod2.copy()
        mod1.obsm[f"X_{model_name}"] = prediction
        mod2.obsm[f"X_{model_name}"] = prediction
        return {"output_mod1": mod1, "output_mod2": mod2}

    def plot(
        self, outputs: dict[str, AnnData], prediction: Any, truth: LabelTruth | None, keys: DataKeys, *, context: PlotContext, folder: Any
    ) -> dict[str, Any]:
        """``umap.png``: UMAP of the joint embedding coloured by cell type and by batch when
        known; the coordinates are kept as ``obsm['X_umap']`` of both outputs."""
        from pathlib import Path

        from dance.core.plotting.categorical import Colouring, values_at
        from dance.core.plotting.embedding import plot_umaps

        mod1 = outputs["output_mod1"]
        panels = []
        if truth is not None:
            panels.append(Colouring("cell type", values_at(mod1.n_obs, truth.positions, truth.labels)))
        if keys.batch_key in mod1.obs.columns:
            panels.append(Colouring("batch", mod1.obs[keys.batch_key].astype(object).to_numpy()))
        rep = f"X_{context.model}"
        path = Path(folder) / "umap.png"
        coords = plot_umaps({rep: prediction}, panels, path, title=context.title(f"UMAP of {rep}"), seed=context.seed)
        for stem in ("output_mod1", "output_mod2"):
            outputs[stem].obsm["X_umap"] = coords[rep]
        return {"plot": path}


def log_expression(data: Modalities) -> tuple[Any, Any]:
    """The gene-expression modality's log-normalised values (sparse kept sparse) and gene names:
    the modality whose ``var['feature_types']`` says expression, else the one named RNA / GEX;
    counts are log-normalised (scanpy's normalize_total + log1p). ``(None, None)`` when neither
    modality is expression."""
    import numpy as np
    import scipy.sparse as sp

    candidates = []
    for adata, name in zip((data.mod1, data.mod2), data.names, strict=True):
        kinds = adata.var["feature_types"].astype(str).str.upper().unique() if "feature_types" in adata.var.columns else []
        if any(k in EXPRESSION_TYPES for k in kinds) or str(name).upper() in EXPRESSION_TYPES:
            candidates.append(adata)
    if not candidates:
        return None, None
    adata = candidates[0]
    x = adata.X
    values = (x.data if sp.issparse(x) else np.asarray(x)).ravel()
    sample = values[: min(values.size, 100_000)]
    if sample.size and sample.min() >= 0 and np.allclose(sample, np.round(sample)) and sample.max() > 1:
        import scanpy as sc
        from anndata import AnnData

        # a copy: scanpy normalises in place, and the user's data must stay as it was
        logged = AnnData(X=sp.csr_matrix(x, dtype=np.float32, copy=True) if sp.issparse(x) else np.array(x, dtype=np.float32))
        sc.pp.normalize_total(logged, target_sum=1e4)
        sc.pp.log1p(logged)
        x = logged.X
    return x, adata.var_names.to_numpy()


def embedding_array(prediction: Any, n_obs: int, what: str) -> Any:
    """A finite float32 (n_obs x dims>=1) array, or a clear error."""
    import numpy as np
    import scipy.sparse as sp

    from dance.core import validation as v

    array = np.asarray(prediction.toarray() if sp.issparse(prediction) else prediction, dtype=np.float32)
    if array.ndim != 2 or array.shape[0] != n_obs or array.shape[1] < 1:
        raise DanceInputError(f"{what} must be (cells={n_obs}) x (dims >= 1); got {array.shape}", field="prediction")
    v.check_finite(array, what)
    return array
