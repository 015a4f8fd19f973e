"""Nearest-neighbour search (FAISS) and UMAP-style kNN graphs, without JIT compilation.

:class:`NeighborIndex` is the one nearest-neighbour search of dance (FAISS, exact below
``exact_limit`` points, an inverted-file index above, on a GPU when asked; scikit-learn when FAISS
is unavailable); :func:`knn` and :func:`radius_neighbors` are built on it, and every model, metric
and transform searches neighbours through them.
:func:`umap_connectivities` computes the fuzzy simplicial set of McInnes, Healy & Melville (2018,
arXiv:1802.03426) -- the connectivities scanpy's ``pp.neighbors`` stores -- with the per-cell
bandwidth search vectorised in NumPy, so building a graph costs milliseconds instead of a
multi-second numba compilation in every process.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

__all__ = ["NeighborIndex", "knn", "knn_graph_matrices", "radius_neighbors", "umap_connectivities"]


Metric = Literal["euclidean", "manhattan"]

#: one FAISS GPU resource object per device, shared by every GPU index of the process
_GPU_RESOURCES: dict[int, Any] = {}


def _faiss() -> Any:
    try:
        import faiss
    except ImportError:
        return None
    return faiss


class NeighborIndex:
    """Nearest-neighbour search over the rows of ``data``: the one place dance searches neighbours.

    FAISS, exact (a flat index) up to ``exact_limit`` points and an inverted-file index above it
    (``nprobe`` lists searched, trained on a seeded sample), optionally on a GPU; scikit-learn when
    FAISS is not installed. Build it once and :meth:`search` it as often as needed (centroid OT
    queries one index per batch for every chunk of cells).

    Parameters
    ----------
    data
        Points x dimensions.
    metric
        ``"euclidean"`` or ``"manhattan"`` (always exact). For cosine distances, L2-normalise the
        rows first: the Euclidean order is then the cosine order.
    """

    def __init__(
        self,
        data: np.ndarray,
        *,
        metric: Metric = "euclidean",
        exact_limit: int = 200_000,
        nprobe: int = 16,
        seed: int = 0,
        use_gpu: bool = False,
        gpu_device: int = 0,
    ) -> None:
        if metric not in ("euclidean", "manhattan"):
            raise ValueError(f"unknown metric '{metric}'; expected 'euclidean' or 'manhattan'")
        self.metric = metric
        data = np.asarray(data, dtype=np.float64)
        # distances do not change with a shift; centring keeps float32 precise for coordinates in
        # the thousands (pixels), where FAISS's |x|^2 + |y|^2 - 2 x.y would lose the small ones
        self._offset = data.mean(axis=0) if data.size else np.zeros(data.shape[1:])
        self.base = np.ascontiguousarray(data - self._offset, dtype=np.float32)
        self.n = self.base.shape[0]
        faiss = _faiss()
        self._sklearn = None
        self._index = None
        if faiss is None:
            from sklearn.neighbors import NearestNeighbors

            self._sklearn = NearestNeighbors(p=1 if metric == "manhattan" else 2).fit(self.base)
            return
        dim = self.base.shape[1]
        if metric == "manhattan":
            index = faiss.IndexFlat(dim, faiss.METRIC_L1)
        elif self.n <= exact_limit:
            index = faiss.IndexFlatL2(dim)
        else:
            n_lists = int(min(4 * np.sqrt(self.n), 65536))
            index = faiss.IndexIVFFlat(faiss.IndexFlatL2(dim), dim, n_lists)
            rng = np.random.default_rng(seed)
            index.train(self.base[rng.choice(self.n, size=min(self.n, 64 * n_lists), replace=False)])
            index.nprobe = nprobe
        if use_gpu and hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0:
            resources = _GPU_RESOURCES.setdefault(gpu_device, faiss.StandardGpuResources())
            index = faiss.index_cpu_to_gpu(resources, gpu_device, index)
        index.add(self.base)
        self._index = index

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Indices (int64) and distances (float32) of the ``k`` nearest points to each query row."""
        k = int(min(k, self.n))
        queries = np.ascontiguousarray(np.asarray(queries, dtype=np.float64) - self._offset, dtype=np.float32)
        if self._sklearn is not None:
            distances, indices = self._sklearn.kneighbors(queries, n_neighbors=k)
            return indices.astype(np.int64), distances.astype(np.float32)
        found, indices = self._index.search(queries, k)
        distances = found if self.metric == "manhattan" else np.sqrt(np.clip(found, 0, None))
        return indices.astype(np.int64), distances.astype(np.float32)


def knn(
    data: np.ndarray,
    k: int,
    *,
    query: np.ndarray | None = None,
    metric: Metric = "euclidean",
    exact_limit: int = 200_000,
    nprobe: int = 16,
    seed: int = 0,
    use_gpu: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Indices and distances of the ``k`` nearest points of ``data`` for each query row.

    When ``query`` is None the data are queried against themselves and each point is its own
    first neighbour (distance 0), as scanpy and UMAP expect.
    """
    index = NeighborIndex(data, metric=metric, exact_limit=exact_limit, nprobe=nprobe, seed=seed, use_gpu=use_gpu)
    indices, distances = index.search(data if query is None else query, k)
    k = indices.shape[1]
    if query is None:
        # ties can put another point with distance 0 first; make each point its own first neighbour
        own = np.arange(indices.shape[0])
        for row in np.flatnonzero(indices[:, 0] != own):
            others = indices[row][indices[row] != row][: k - 1]
            dists = distances[row][indices[row] != row][: k - 1]
            indices[row] = np.concatenate([[row], others, np.full(k - 1 - len(others), others[-1] if len(others) else row)])
            distances[row] = np.concatenate([[0.0], dists, np.full(k - 1 - len(dists), dists[-1] if len(dists) else 0.0)])
    return indices, distances


def radius_neighbors(data: np.ndarray, radius: float, *, start_k: int = 16) -> sp.csr_matrix:
    """Points x points sparse matrix of the Euclidean distances to every other point closer than
    ``radius`` (inclusive; self excluded), found by kNN searches with ``k`` doubled until each
    point's farthest found neighbour lies beyond the radius."""
    index = NeighborIndex(data)
    n = index.n
    k = int(min(max(start_k, 2), n))
    while True:
        indices, distances = index.search(data, k)
        if k >= n or (distances[:, -1] > radius).all():
            break
        k = int(min(2 * k, n))
    keep = (distances <= radius) & (indices != np.arange(n)[:, None])
    rows = np.repeat(np.arange(n), indices.shape[1])[keep.ravel()]
    return sp.csr_matrix((distances[keep], (rows, indices[keep])), shape=(n, n))


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
