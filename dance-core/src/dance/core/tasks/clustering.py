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
    ``obs['<model>_pred']``; models that learn a cell embedding (``embedding_``, e.g. the deep
    clustering models) also write it to ``obsm['X_<model>']``.
Metrics (``fn(y_true, y_pred)``)
    ``ari`` (adjusted Rand index), ``nmi`` (normalised mutual information).
"""

from __future__ import annotations

from dance.core.models.base import DanceModel
from dance.core.specs import FieldSpec, TaskSpec
from dance.core.tasks.base import PartitionContract

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
