"""Per-batch summary statistics of the cells, scMoGNN's batch features."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["BATCH_STATISTICS", "batch_features"]

#: the nine statistics of a cell's values, averaged over the cells of its batch
BATCH_STATISTICS = (
    "cell_mean",
    "cell_std",
    "nonzero_25%",
    "nonzero_50%",
    "nonzero_75%",
    "nonzero_max",
    "nonzero_count / 1000",
    "nonzero_mean",
    "nonzero_std",
)


def _cell_statistics(x: Any) -> np.ndarray:
    csr = sp.csr_matrix(x, dtype=np.float64)
    csr.eliminate_zeros()
    n_cells, n_features = csr.shape
    stats = np.zeros((n_cells, len(BATCH_STATISTICS)))
    sums = np.asarray(csr.sum(axis=1)).ravel()
    squares = np.asarray(csr.multiply(csr).sum(axis=1)).ravel()
    mean = sums / n_features
    stats[:, 0] = mean
    stats[:, 1] = np.sqrt(np.maximum(squares / n_features - mean**2, 0.0))
    for i in range(n_cells):
        values = csr.data[csr.indptr[i] : csr.indptr[i + 1]]
        if values.size:
            stats[i, 2:5] = np.percentile(values, [25, 50, 75])
            stats[i, 5] = values.max()
            stats[i, 6] = values.size / 1000
            stats[i, 7] = values.mean()
            stats[i, 8] = values.std()
    return stats


def batch_features(x: Any, batch: Any | None = None) -> np.ndarray:
    """``(cells, 9)``: for each cell, the mean over the cells of its batch of nine statistics of
    the cells' values (mean, standard deviation, quartiles / max / count / mean / standard deviation
    of the non-zeros; :data:`BATCH_STATISTICS`). scMoGNN adds them to its cell embeddings so the
    network can tell batches apart (Wen et al. 2022, KDD; DANCE's ``BatchFeature``). One batch
    when ``batch`` is None."""
    stats = _cell_statistics(x)
    if batch is None:
        return np.tile(stats.mean(axis=0), (stats.shape[0], 1)).astype(np.float32)
    codes, inverse = np.unique(np.asarray(batch).astype(str), return_inverse=True)
    means = np.zeros((len(codes), stats.shape[1]))
    np.add.at(means, inverse, stats)
    means /= np.bincount(inverse, minlength=len(codes))[:, None]
    return means[inverse].astype(np.float32)
