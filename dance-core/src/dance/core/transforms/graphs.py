"""Graph-construction transforms: kNN cell graph, cell-gene bipartite graph, spatial graph."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import scipy.sparse as sp

from dance.core import validation as v
from dance.core.errors import DanceInputError

if TYPE_CHECKING:
    from anndata import AnnData

    from dance.core.keys import DataKeys

__all__ = ["cell_gene_graph", "knn_graph", "spatial_graph"]


def knn_graph(
    adata: AnnData, *, n_neighbors: int = 15, use_rep: str = "X_pca", metric: Literal["euclidean", "cosine"] = "euclidean", seed: int = 0
) -> AnnData:
    """kNN graph on ``obsm[use_rep]`` in scanpy's layout: ``obsp['distances']``,
    ``obsp['connectivities']`` (UMAP fuzzy simplicial set) and ``uns['neighbors']``.

    Neighbours come from FAISS (:mod:`dance.core.neighbors`); ``n_neighbors`` counts the cell
    itself, as in scanpy.
    """
    from dance.core.neighbors import knn_graph_matrices

    if use_rep == "X":
        embedding = adata.X.toarray() if sp.issparse(adata.X) else np.asarray(adata.X)
    elif use_rep in adata.obsm:
        embedding = np.asarray(adata.obsm[use_rep])
    else:
        raise DanceInputError(f"obsm['{use_rep}'] is missing: knn_graph needs it (add a pca or lsi step first)", field=f"obsm['{use_rep}']")
    embedding = embedding.astype(np.float32)
    if metric == "cosine":
        embedding = embedding / np.clip(np.linalg.norm(embedding, axis=1, keepdims=True), 1e-12, None)
    elif metric != "euclidean":
        raise DanceInputError(f"knn_graph metric must be 'euclidean' or 'cosine', got '{metric}'", field="metric")
    distances, connectivities = knn_graph_matrices(embedding, int(min(n_neighbors, adata.n_obs)), seed=seed)
    adata.obsp["distances"] = distances
    adata.obsp["connectivities"] = connectivities
    adata.uns["neighbors"] = {
        "connectivities_key": "connectivities",
        "distances_key": "distances",
        "params": {"n_neighbors": int(n_neighbors), "method": "umap", "metric": metric, "use_rep": use_rep},
    }
    return adata


def cell_gene_graph(adata: AnnData, *, keys: DataKeys, layer_added: str = "cell_gene_weight") -> AnnData:
    """Weighted cell-gene bipartite graph: edge weight = count / the cell's total count.

    Stored as a cells x genes sparse matrix in ``layers[layer_added]`` (graph-sc, scDeepsort).
    """
    counts = sp.csr_matrix(v.counts_matrix(adata, keys), dtype=np.float32)
    totals = np.asarray(counts.sum(axis=1)).ravel()
    weights = sp.diags(1.0 / np.clip(totals, 1e-12, None)).astype(np.float32) @ counts
    adata.layers[layer_added] = sp.csr_matrix(weights)
    return adata


def spatial_graph(
    adata: AnnData,
    *,
    keys: DataKeys,
    method: Literal["knn", "radius"] = "knn",
    n_neighbors: int = 6,
    radius: float | None = None,
) -> AnnData:
    """Graph of spots by coordinates: ``obsp['spatial_connectivities']`` (binary, symmetric,
    no self loops) and ``obsp['spatial_distances']`` (squidpy's keys).

    ``method="radius"`` links spots closer than ``radius`` (default: 1.3 x the median
    nearest-neighbour distance, so a regular grid links only its direct neighbours: 4 on a square
    grid, 6 on Visium's hexagonal one).
    """
    from dance.core.neighbors import knn, radius_neighbors

    coords = v.require_obsm(adata, keys.spatial_key, what="spot coordinates", min_cols=2, option="spatial_key")
    n = adata.n_obs
    if method == "knn":
        indices, found = knn(coords, int(min(n_neighbors, n - 1)) + 1)  # each spot is its own first neighbour
        rows = np.repeat(np.arange(n), indices.shape[1] - 1)
        distances = sp.csr_matrix((found[:, 1:].ravel().astype(np.float64), (rows, indices[:, 1:].ravel())), shape=(n, n))
    elif method == "radius":
        if radius is None:
            _, nearest = knn(coords, 2)
            radius = 1.3 * float(np.median(nearest[:, 1]))
        distances = radius_neighbors(coords, radius)
    else:
        raise DanceInputError(f"spatial_graph method must be 'knn' or 'radius', got '{method}'", field="method")
    distances = sp.csr_matrix(distances.maximum(distances.T))
    distances.setdiag(0)
    distances.eliminate_zeros()
    connectivities = distances.copy()
    connectivities.data[:] = 1.0
    adata.obsp["spatial_distances"] = distances
    adata.obsp["spatial_connectivities"] = connectivities
    return adata
