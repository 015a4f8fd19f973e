"""Pieces shared by the mutual-nearest-neighbour methods (fastMNN, Scanorama, Seurat v3 anchors).

Nearest neighbours come from FAISS (:func:`dance.core.neighbors.knn`, exact up to 200,000
cells), or from a FAISS L1 index for Scanorama's Manhattan matching.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["batch_codes", "cosine_normalize", "mutual_pairs", "neighbors", "randomized_pca"]


def batch_codes(batch: Any) -> tuple[np.ndarray, list[str]]:
    """Integer code per cell and the batch names in sorted order (the order of merging)."""
    import pandas as pd

    codes, names = pd.factorize(pd.Series(np.asarray(batch)).astype(str), sort=True)
    return codes.astype(np.int64), [str(n) for n in names]


def cosine_normalize(x: np.ndarray) -> np.ndarray:
    """Each row divided by its L2 norm (rows of zeros stay zero)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def neighbors(data: np.ndarray, query: np.ndarray, k: int, *, metric: str = "euclidean", seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices and distances of the ``k`` nearest rows of ``data`` for every row of ``query``.

    ``metric="euclidean"`` uses :func:`dance.core.neighbors.knn`; ``"manhattan"`` an exact FAISS
    L1 index (scikit-learn when FAISS is missing).
    """
    k = int(min(k, data.shape[0]))
    if metric == "euclidean":
        from dance.core.neighbors import knn

        return knn(data, k, query=query, seed=seed)
    if metric != "manhattan":
        raise ValueError(f"unknown metric '{metric}'")
    base = np.ascontiguousarray(data, dtype=np.float32)
    queries = np.ascontiguousarray(query, dtype=np.float32)
    try:
        import faiss
    except ImportError:  # pragma: no cover - faiss is a dependency of dance-core
        from sklearn.neighbors import NearestNeighbors

        distances, indices = NearestNeighbors(n_neighbors=k, p=1).fit(base).kneighbors(queries)
        return indices.astype(np.int64), distances.astype(np.float32)
    index = faiss.IndexFlat(base.shape[1], faiss.METRIC_L1)
    index.add(base)
    distances, indices = index.search(queries, k)
    return indices.astype(np.int64), distances.astype(np.float32)


def mutual_pairs(
    a: np.ndarray, b: np.ndarray, k_a: int, k_b: int, *, metric: str = "euclidean", seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Mutual nearest neighbours of two sets of cells (Haghverdi et al. 2018).

    A pair ``(i, j)`` is kept when ``b[j]`` is among the ``k_a`` nearest cells of ``b`` to
    ``a[i]`` and ``a[i]`` among the ``k_b`` nearest cells of ``a`` to ``b[j]``. Returns the
    row indices into ``a`` and into ``b``, sorted by ``(i, j)``.
    """
    nn_ab, _ = neighbors(b, a, k_a, metric=metric, seed=seed)  # for each a: neighbours in b
    nn_ba, _ = neighbors(a, b, k_b, metric=metric, seed=seed)  # for each b: neighbours in a
    n_b = np.int64(b.shape[0])
    forward = np.arange(a.shape[0], dtype=np.int64)[:, None] * n_b + nn_ab
    backward = nn_ba * n_b + np.arange(b.shape[0], dtype=np.int64)[:, None]
    both = np.intersect1d(forward.ravel(), backward.ravel())
    return both // n_b, both % n_b


def randomized_pca(x: np.ndarray, n_comps: int, *, center: bool = True, seed: int = 0, n_iter: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """``(scores, components)`` of the top ``n_comps`` principal components by randomized SVD
    (Halko, Martinsson & Tropp 2011); exact SVD when the matrix is small."""
    from sklearn.utils.extmath import randomized_svd

    x = np.asarray(x, dtype=np.float64)
    if center:
        x = x - x.mean(axis=0)
    n_comps = int(min(n_comps, min(x.shape)))
    if min(x.shape) <= 500:
        u, s, vt = np.linalg.svd(x, full_matrices=False)
        u, s, vt = u[:, :n_comps], s[:n_comps], vt[:n_comps]
    else:
        u, s, vt = randomized_svd(x, n_comps, n_iter=n_iter, random_state=seed)
    return u * s, vt
