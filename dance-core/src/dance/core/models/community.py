"""The model mixin of Leiden / Louvain clustering of the cell kNN graph (the algorithms are
:mod:`dance.core.community`): the standard scanpy workflow as a dance model, shared by the
clustering (dance-single) and spatial-domain (dance-spatial) baselines."""

from __future__ import annotations

from typing import Any

import numpy as np

from dance.core.community import Method, communities, communities_with_n

__all__ = ["CommunityDetection", "community_params_model"]


def community_params_model() -> type:
    """The pydantic parameters of community-detection models (defined lazily to keep imports light)."""
    from pydantic import Field

    from dance.core.models.base import ModelParams

    class Params(ModelParams):
        n_top_genes: int = Field(2000, ge=10, description="highly variable genes kept")
        n_pcs: int = Field(50, ge=2, description="principal components of the kNN graph")
        n_neighbors: int = Field(15, ge=2, description="neighbours per cell")
        resolution: float = Field(1.0, gt=0, description="modularity resolution (when n_clusters is None)")
        n_clusters: int | None = Field(None, ge=2, description="target number of clusters, found by bisection on the resolution")

    return Params


class CommunityDetection:
    """Mixin of models that cluster the kNN graph of PCA of log-normalised, scaled HVG expression
    (the standard scanpy workflow, Wolf et al. 2018, Genome Biol 19:15) with Leiden or Louvain.
    ``embedding_`` keeps that PCA (cells x ``n_pcs``), which the task writes to ``obsm['X_<model>']``.

    Combine with a task's model base: ``class Leiden(CommunityDetection, ClusteringModel)``.
    """

    method: Method = "leiden"
    Params = community_params_model()
    params: Any
    seed: int

    def build_pipeline(self) -> tuple[Any, ...]:
        from dance.core.transforms.pipeline import step

        p = self.params
        return (
            step("log_normalize"),
            step("highly_variable_genes", n_top_genes=p.n_top_genes),
            step("scale", max_value=10.0),
            step("pca", n_comps=p.n_pcs),
            step("knn_graph", n_neighbors=p.n_neighbors, use_rep="X_pca"),
        )

    def _fit(self, data: Any) -> None:
        graph = data.obsp["connectivities"]
        if self.params.n_clusters is not None:
            labels, resolution = communities_with_n(graph, self.params.n_clusters, method=self.method, seed=self.seed)
        else:
            resolution = self.params.resolution
            labels = communities(graph, method=self.method, resolution=resolution, seed=self.seed)
        self.labels_ = labels
        # the representation the graph was built from (the PCA, unless a custom pipeline chose
        # another): written next to the labels (obsm['X_<model>']) and drawn by dance run
        rep = data.uns.get("neighbors", {}).get("params", {}).get("use_rep", "X_pca")
        self.embedding_ = np.asarray(data.obsm[rep], dtype=np.float32) if rep in data.obsm else None
        self.notes_ = {"resolution": round(float(resolution), 4), "n_clusters_found": int(labels.max()) + 1}

    def _predict(self, data: Any) -> Any:
        return self.labels_
