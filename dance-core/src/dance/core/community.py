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

__all__ = ["communities", "communities_with_n", "igraph_graph"]

Method = Literal["leiden", "louvain"]


def igraph_graph(connectivities: Any) -> Any:
    """An undirected weighted igraph ``Graph`` of a symmetric cells x cells sparse matrix (upper triangle)."""
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

    graph = graph if graph is not None else igraph_graph(connectivities)
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
    graph = igraph_graph(connectivities)
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
