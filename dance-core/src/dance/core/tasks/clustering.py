"""Task ``clustering``: group cells into cell types without labels.

Input
    One AnnData with expression in ``X`` (raw counts in ``layers['counts']`` or ``X`` for models
    that need them). ``obs['cell_type']`` is optional: when present it is hidden from the model,
    used as truth, and its number of classes is passed as ``n_clusters`` to models that take it
    (DANCE's protocol). Without labels, models estimate the number of clusters (Leiden/Louvain)
    and no metric is computed; the result says which (``n_clusters_source``).
Prediction
    One cluster label per cell (integers).
Output
    ``obs['<model>_pred']``; models that keep a cell embedding (``embedding_``: the deep
    clustering models' latent space, the PCA Leiden and Louvain cluster) also write it to
    ``obsm['X_<model>']``. ``dance run`` draws a UMAP of it (``umap.png``) and keeps the
    coordinates in ``obsm['X_umap']``.
Metrics (``fn(y_true, y_pred)``)
    ``ari`` (adjusted Rand index), ``nmi`` (normalised mutual information).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dance.core.models.base import DanceModel
from dance.core.specs import FieldSpec, TaskSpec
from dance.core.tasks.base import PartitionContract

if TYPE_CHECKING:
    from anndata import AnnData

    from dance.core.keys import DataKeys
    from dance.core.plotting.context import PlotContext

__all__ = ["SPEC", "Clustering", "ClusteringModel"]

SPEC = TaskSpec(
    name="clustering",
    summary="Group cells into clusters that match cell types, without labels",
    target="dance.core.tasks.clustering:Clustering",
    input_kind="single",
    roles=("adata",),
    inputs=(
        FieldSpec(role="adata", slot="X", description="expression (raw counts for models that need them)"),
        FieldSpec(
            role="adata",
            slot="obs",
            key="cell_type",
            option="label_key",
            required=False,
            description="labels for evaluation and the number of clusters",
        ),
    ),
    outputs=(FieldSpec(role="adata", slot="obs", key="{model}_pred", description="cluster of each cell"),),
    metrics=("ari", "nmi"),
)


class ClusteringModel(DanceModel):
    """Base class of clustering models: ``predict`` returns one cluster label per cell.

    Clustering models are transductive: they label the cells they were fitted on.
    """

    task = "clustering"
    transductive = True


class Clustering(PartitionContract):
    spec = SPEC
    model_base = ClusteringModel

    def plot(
        self, outputs: dict[str, AnnData], prediction: Any, truth: Any, keys: DataKeys, *, context: PlotContext, folder: Any
    ) -> dict[str, Any]:
        """``umap.png``: UMAP of the model's cell embedding (``obsm['X_<model>']``; for models
        without one, PCA of log-normalised HVG expression, then kept as ``obsm['X_pca']``, or as
        ``obsm['X_pca_hvg']`` when the input has its own ``X_pca``), coloured by predicted
        cluster (matched to the cell types), true cell type and batch when known. The
        coordinates are kept as ``obsm['X_umap']``."""
        from dance.core.plotting.categorical import Colouring, matched_panels, values_at
        from dance.core.plotting.embedding import expression_embedding, plot_umaps

        out = outputs["output"]
        rep = f"X_{context.model}"
        if rep in out.obsm:
            embedding = out.obsm[rep]
        else:
            # never overwrite a PCA the input brought along
            rep = "X_pca" if "X_pca" not in out.obsm else "X_pca_hvg"
            embedding = out.obsm[rep] = expression_embedding(out, keys, seed=context.seed)
        annotated = None if truth is None else values_at(out.n_obs, truth.positions, truth.labels)
        panels = matched_panels(prediction, annotated, predicted_title="predicted clusters", annotated_title="true cell types")
        if keys.batch_key in out.obs.columns:
            panels.append(Colouring("batch", out.obs[keys.batch_key].astype(object).to_numpy()))
        path = Path(folder) / "umap.png"
        coords = plot_umaps({rep: embedding}, panels, path, title=context.title(f"UMAP of {rep}"), seed=context.seed)
        out.obsm["X_umap"] = coords[rep]
        return {"plot": path}
