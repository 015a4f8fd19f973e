"""Pieces shared by the mutual-nearest-neighbour methods (fastMNN, Scanorama, Seurat v3 anchors).

Nearest neighbours come from FAISS (:func:`dance.core.neighbors.knn`, exact up to 200,000
cells), or from a FAISS L1 index for Scanorama's Manhattan matching.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["batch_codes", "cosine_normalize", "mutual_pairs", "randomized_pca"]


def batch_codes(batch: Any) -> tuple[np.ndarray, list[str]]:
    """Integer code per cell and the batch names in sorted order (the order of merging)."""
    import pandas as pd

    codes, names = pd.factorize(pd.Series(np.asarray(batch)).astype(str), sort=True)
    return codes.astype(np.int64), [str(n) for n in names]


def cosine_normalize(x: np.ndarray) -> np.ndarray:
    """Each row divided by its L2 norm (rows of zeros stay zero)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def mutual_pairs(
    a: np.ndarray, b: np.ndarray, k_a: int, k_b: int, *, metric: str = "euclidean", seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Mutual nearest neighbours of two sets of cells (Haghverdi et al. 2018).

    A pair ``(i, j)`` is kept when ``b[j]`` is among the ``k_a`` nearest cells of ``b`` to
    ``a[i]`` and ``a[i]`` among the ``k_b`` nearest cells of ``a`` to ``b[j]``. Returns the
    row indices into ``a`` and into ``b``, sorted by ``(i, j)``.
    """
    from dance.core.neighbors import knn

    nn_ab, _ = knn(b, k_a, query=a, metric=metric, seed=seed)  # for each a: neighbours in b
    nn_ba, _ = knn(a, k_b, query=b, metric=metric, seed=seed)  # for each b: neighbours in a
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
