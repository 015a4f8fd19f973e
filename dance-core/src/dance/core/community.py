"""Community detection on cell graphs: Leiden and Louvain, with an optional target number of
clusters found by bisection on the resolution.

* Leiden: Traag, Waltman & van Eck (2019) From Louvain to Leiden: guaranteeing well-connected
  communities. Sci Rep 9:5233 (igraph's implementation, modularity with resolution).
* Louvain: Blondel et al. (2008) Fast unfolding of communities in large networks. J Stat Mech
  P10008 (igraph's multilevel implementation, modularity with resolution).
"""

from __future__ import annotations

import random
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

__all__ = ["CommunityDetection", "communities", "communities_with_n"]

Method = Literal["leiden", "louvain"]


def _graph(connectivities: Any) -> Any:
    import igraph as ig

    matrix = sp.triu(sp.csr_matrix(connectivities), k=1).tocoo()
    graph = ig.Graph(n=matrix.shape[0], edges=np.column_stack([matrix.row, matrix.col]).tolist(), directed=False)
    graph.es["weight"] = matrix.data.astype(float).tolist()
    return graph


def communities(connectivities: Any, *, method: Method = "leiden", resolution: float = 1.0, seed: int = 0, graph: Any = None) -> np.ndarray:
    """Community label of each node of a weighted undirected graph (cells x cells sparse matrix).

    Labels are renumbered by decreasing community size, so runs are comparable.
    """
    import igraph as ig

    graph = graph if graph is not None else _graph(connectivities)
    ig.set_random_number_generator(random.Random(seed))
    try:
        if method == "leiden":
            partition = graph.community_leiden(objective_function="modularity", weights="weight", resolution=resolution, n_iterations=-1)
        elif method == "louvain":
            partition = graph.community_multilevel(weights="weight", resolution=resolution)
        else:
            raise ValueError(f"unknown community method '{method}'")
    finally:
        ig.set_random_number_generator(random)
    labels = np.asarray(partition.membership)
    order = np.argsort(-np.bincount(labels), kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[labels]


def communities_with_n(
    connectivities: Any,
    n_clusters: int,
    *,
    method: Method = "leiden",
    seed: int = 0,
    low: float = 0.01,
    high: float = 5.0,
    max_steps: int = 30,
) -> tuple[np.ndarray, float]:
    """Communities at a resolution giving ``n_clusters`` (or the closest found), and that resolution.

    Bisection on the resolution, as DANCE and scanpy users do to match a known cluster count.
    """
    graph = _graph(connectivities)
    best: tuple[int, np.ndarray, float] | None = None
    for _ in range(max_steps):
        resolution = (low + high) / 2
        labels = communities(connectivities, method=method, resolution=resolution, seed=seed, graph=graph)
        found = int(labels.max()) + 1
        gap = abs(found - n_clusters)
        if best is None or gap < best[0]:
            best = (gap, labels, resolution)
        if found == n_clusters:
            break
        if found < n_clusters:
            low = resolution
        else:
            high = resolution
    assert best is not None
    return best[1], best[2]


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
