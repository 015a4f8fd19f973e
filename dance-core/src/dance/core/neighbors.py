"""Nearest-neighbour search (FAISS) and UMAP-style kNN graphs, without JIT compilation.

:func:`knn` finds the k nearest neighbours with FAISS (exact below ``exact_limit`` points, an
inverted-file index above), falling back to scikit-learn when FAISS is unavailable.
:func:`umap_connectivities` computes the fuzzy simplicial set of McInnes, Healy & Melville (2018,
arXiv:1802.03426) -- the connectivities scanpy's ``pp.neighbors`` stores -- with the per-cell
bandwidth search vectorised in NumPy, so building a graph costs milliseconds instead of a
multi-second numba compilation in every process.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["knn", "knn_graph_matrices", "umap_connectivities"]


def _faiss() -> Any:
    try:
        import faiss
    except ImportError:
        return None
    return faiss


def knn(
    data: np.ndarray,
    k: int,
    *,
    query: np.ndarray | None = None,
    exact_limit: int = 200_000,
    nprobe: int = 16,
    seed: int = 0,
    use_gpu: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Indices and Euclidean distances of the ``k`` nearest points of ``data`` for each query row.

    When ``query`` is None the data are queried against themselves and each point is its own
    first neighbour (distance 0), as scanpy and UMAP expect.
    """
    base = np.ascontiguousarray(data, dtype=np.float32)
    queries = base if query is None else np.ascontiguousarray(query, dtype=np.float32)
    k = int(min(k, base.shape[0]))
    faiss = _faiss()
    if faiss is None:
        from sklearn.neighbors import NearestNeighbors

        distances, indices = NearestNeighbors(n_neighbors=k).fit(base).kneighbors(queries)
        return indices.astype(np.int64), distances.astype(np.float32)
    dim = base.shape[1]
    if base.shape[0] <= exact_limit:
        index = faiss.IndexFlatL2(dim)
    else:
        n_lists = int(min(4 * np.sqrt(base.shape[0]), 65536))
        quantizer = faiss.IndexFlatL2(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, n_lists)
        rng = np.random.default_rng(seed)
        sample = base[rng.choice(base.shape[0], size=min(base.shape[0], 64 * n_lists), replace=False)]
        index.train(sample)
        index.nprobe = nprobe
    if use_gpu and hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0:
        index = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)
    index.add(base)
    squared, indices = index.search(queries, k)
    distances = np.sqrt(np.clip(squared, 0, None))
    if query is None:
        # ties can put another point with distance 0 first; make each point its own first neighbour
        own = np.arange(queries.shape[0])
        not_first = indices[:, 0] != own
        if not_first.any():
            for row in np.flatnonzero(not_first):
                others = indices[row][indices[row] != row][: k - 1]
                dists = distances[row][indices[row] != row][: k - 1]
                indices[row] = np.concatenate([[row], others, np.full(k - 1 - len(others), others[-1] if len(others) else row)])
                distances[row] = np.concatenate([[0.0], dists, np.full(k - 1 - len(dists), dists[-1] if len(dists) else 0.0)])
    return indices.astype(np.int64), distances.astype(np.float32)


def _smooth_knn_dist(distances: np.ndarray, k: float, n_iter: int = 64, bandwidth: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """UMAP's per-point ``sigma`` and ``rho`` (local_connectivity = 1), by vectorised bisection."""
    target = np.log2(k) * bandwidth
    positive = np.where(distances > 0, distances, np.inf)
    rho = positive.min(axis=1)
    rho = np.where(np.isfinite(rho), rho, 0.0)
    low = np.zeros(distances.shape[0])
    high = np.full(distances.shape[0], np.inf)
    mid = np.ones(distances.shape[0])
    shifted = np.maximum(distances[:, 1:] - rho[:, None], 0.0)
    for _ in range(n_iter):
        psum = np.exp(-shifted / mid[:, None]).sum(axis=1)
        too_big = psum > target
        high = np.where(too_big, mid, high)
        low = np.where(too_big, low, mid)
        mid = np.where(too_big, (low + high) / 2, np.where(np.isinf(high), mid * 2, (low + high) / 2))
    mean_all = distances.mean()
    mean_row = distances.mean(axis=1)
    floor = np.where(rho > 0, 1e-3 * mean_row, 1e-3 * mean_all)
    return np.maximum(mid, floor), rho


def umap_connectivities(indices: np.ndarray, distances: np.ndarray) -> sp.csr_matrix:
    """Fuzzy-union symmetrised UMAP connectivities from a kNN result that includes self."""
    n, k = indices.shape
    sigma, rho = _smooth_knn_dist(distances.astype(np.float64), float(k))
    weights = np.exp(-np.maximum(distances - rho[:, None], 0.0) / sigma[:, None])
    weights[indices == np.arange(n)[:, None]] = 0.0
    graph = sp.csr_matrix((weights.ravel(), (np.repeat(np.arange(n), k), indices.ravel())), shape=(n, n))
    graph.eliminate_zeros()
    transpose = graph.T.tocsr()
    product = graph.multiply(transpose)
    return (graph + transpose - product).tocsr()


def knn_graph_matrices(embedding: np.ndarray, n_neighbors: int = 15, *, seed: int = 0) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """``(distances, connectivities)`` in scanpy's layout (distances exclude self)."""
    indices, distances = knn(embedding, n_neighbors, seed=seed)
    n = indices.shape[0]
    rows = np.repeat(np.arange(n), indices.shape[1] - 1)
    dist = sp.csr_matrix((distances[:, 1:].ravel(), (rows, indices[:, 1:].ravel())), shape=(n, n))
    return dist, umap_connectivities(indices, distances)
