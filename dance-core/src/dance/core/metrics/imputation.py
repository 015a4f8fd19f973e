"""Imputation metrics: ``fn(truth: HeldOutEntries, evaluation: ImputationEvaluation) -> float``.

The entry metrics compare, on the held-out entries only, ``log1p`` of the imputed value
(negative values clipped to 0) with ``log1p`` of the true count (the scale DANCE issue #227 asks
for, so that numbers are comparable across models and datasets):

* ``mse`` / ``rmse``: mean squared error and its square root.
* ``pearson``: Pearson correlation of the two vectors.
* ``median_l1``: median absolute error, scGNN's ``imputation_error_log`` median
  (``benchmark_util.py``: ``|imputed_log - log(y + 1)|``; scGNN's imputations are on log scale,
  ours are mapped there by log1p). scGNN's raw-scale variant is not reported: on counts the
  median is dominated by the depth of the data set.
* ``cosine``: for each cell with at least 2 held-out entries, the cosine similarity of its
  imputed and true held-out values (log1p), averaged over those cells; a cell whose imputed
  values are all 0 scores 0. (scGNN's ``imputation_cosine`` takes one cosine over all held-out
  entries at once; per cell, a model cannot score by getting the deep cells right only.)

The downstream check clusters whole matrices: ``ari_imputed`` / ``ari_masked`` are the adjusted
Rand index with the cell types of Leiden clusters of the imputed and of the masked matrix, each
log-normalised (1e4 per cell), restricted to the 2,000 genes with the highest variance of the
log-normalised *masked* counts (the same genes for both), scaled (clipped at 10), reduced to 50
principal components, with a 15-neighbour UMAP graph and the Leiden resolution found by bisection
to give the number of labelled types (:func:`dance.core.community.communities_with_n`). ARI is
over the labelled cells; ``ari_gain`` = ``ari_imputed - ari_masked``. Everything is seeded (seed 0):
the same matrices give the same values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from dance.core.errors import MetricNotComputableError

__all__ = [
    "ImputationEvaluation",
    "ari_gain",
    "ari_imputed",
    "ari_masked",
    "cosine",
    "expression_clusters",
    "mean_squared_error",
    "median_l1",
    "pearson",
    "root_mean_squared_error",
]

#: genes, principal components and neighbours of the downstream clustering
N_TOP_GENES = 2000
N_COMPS = 50
N_NEIGHBORS = 15


class ImputationEvaluation:
    """An imputed matrix and its values at the held-out entries of ``truth`` (log1p scale)."""

    def __init__(self, truth: Any, imputed: Any) -> None:
        self.imputed = imputed
        #: log1p of the true and of the imputed value of each held-out entry
        self.true, self.predicted = truth.pair(imputed)
        self.rows = np.asarray(truth.rows)
        #: values computed once per prediction (the imputed matrix's ARI, for ari_imputed and ari_gain)
        self.cache: dict[str, Any] = {}


def mean_squared_error(truth: Any, evaluation: ImputationEvaluation) -> float:
    """Mean squared error of log1p values over the held-out entries."""
    return float(np.mean((evaluation.true - evaluation.predicted) ** 2))


def root_mean_squared_error(truth: Any, evaluation: ImputationEvaluation) -> float:
    """Square root of :func:`mean_squared_error`."""
    return float(np.sqrt(mean_squared_error(truth, evaluation)))


def pearson(truth: Any, evaluation: ImputationEvaluation) -> float:
    """Pearson correlation of true and imputed log1p values over the held-out entries (0 when
    either side is constant, e.g. every imputed value 0)."""
    a, b = evaluation.true, evaluation.predicted
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def median_l1(truth: Any, evaluation: ImputationEvaluation) -> float:
    """Median of ``|log1p(imputed) - log1p(true)|`` over the held-out entries (scGNN's L1 median, log variant)."""
    return float(np.median(np.abs(evaluation.true - evaluation.predicted)))


def cosine(truth: Any, evaluation: ImputationEvaluation) -> float:
    """Mean over cells with >= 2 held-out entries of the cosine similarity between the cell's
    imputed and true held-out values (log1p); 0 for a cell whose imputed values are all 0."""
    rows, a, b = evaluation.rows, evaluation.true, evaluation.predicted
    n = int(rows.max()) + 1 if rows.size else 0
    entries = np.bincount(rows, minlength=n)
    cells = entries >= 2
    if not cells.any():
        raise MetricNotComputableError("no cell has 2 or more held-out entries")
    dot = np.bincount(rows, weights=a * b, minlength=n)[cells]
    norms = np.sqrt(np.bincount(rows, weights=a * a, minlength=n)[cells] * np.bincount(rows, weights=b * b, minlength=n)[cells])
    similarity = np.divide(dot, norms, out=np.zeros_like(dot), where=norms > 0)
    return float(np.mean(similarity))


# ---------------------------------------------------------------------- downstream clustering
def _log_normalized(matrix: Any, genes: np.ndarray) -> np.ndarray:
    """log1p of counts scaled to 1e4 per cell (totals over all genes, negative values as 0), dense,
    of ``genes`` only; a dense input is read in row blocks (no float64 copy of all genes)."""
    if sp.issparse(matrix):
        x = sp.csr_matrix(matrix)
        positive = x.multiply(x > 0).tocsr()
        totals = np.asarray(positive.sum(axis=1), dtype=np.float64).ravel()
        selected = positive[:, genes].toarray().astype(np.float64)
    else:
        x = np.asarray(matrix)
        totals = np.concatenate(
            [np.clip(x[i : i + 2048], 0, None).sum(axis=1, dtype=np.float64) for i in range(0, x.shape[0], 2048)] or [np.zeros(0)]
        )
        selected = np.clip(x[:, genes].astype(np.float64), 0, None)
    factors = np.divide(1e4, totals, out=np.zeros_like(totals), where=totals > 0)
    return np.log1p(selected * factors[:, None])


def variable_genes(masked: Any, n_top_genes: int = N_TOP_GENES) -> np.ndarray:
    """Indices (sorted) of the ``n_top_genes`` genes with the highest variance of log-normalised counts."""
    n_genes = masked.shape[1]
    if n_genes <= n_top_genes:
        return np.arange(n_genes)
    # variance from sparse sums: no dense cells x all-genes copy
    x = sp.csr_matrix(masked, dtype=np.float64)
    totals = np.asarray(x.sum(axis=1)).ravel()
    factors = np.divide(1e4, totals, out=np.zeros_like(totals), where=totals > 0)
    logged = sp.diags(factors) @ x
    logged.data = np.log1p(logged.data)
    mean = np.asarray(logged.mean(axis=0)).ravel()
    variance = np.asarray(logged.multiply(logged).mean(axis=0)).ravel() - mean**2
    return np.sort(np.argsort(-variance, kind="stable")[:n_top_genes])


def expression_clusters(matrix: Any, genes: np.ndarray, n_clusters: int, *, seed: int = 0) -> np.ndarray:
    """Leiden clusters (``n_clusters``, or the closest count found) of cells of a count-scale
    matrix: log-normalised ``genes``, scaled, PCA, UMAP kNN graph (see the module docstring)."""
    from sklearn.decomposition import PCA

    from dance.core.community import communities_with_n
    from dance.core.neighbors import knn, umap_connectivities

    x = _log_normalized(matrix, genes)
    x -= x.mean(axis=0)
    sd = x.std(axis=0)
    x = np.clip(x / np.where(sd > 0, sd, 1.0), None, 10.0)
    if not (sd > 0).any():  # every cell the same (an all-zero imputation): one cluster
        return np.zeros(x.shape[0], dtype=np.int64)
    n_comps = int(min(N_COMPS, x.shape[0] - 1, x.shape[1] - 1))
    solver = "randomized" if min(x.shape) > 500 else "full"
    embedding = PCA(n_components=n_comps, svd_solver=solver, random_state=seed).fit_transform(x)
    indices, _ = knn(embedding, min(N_NEIGHBORS, x.shape[0] - 1), seed=seed)
    # distances to the neighbours FAISS found, again in float64: FAISS's float32 |x|^2 + |y|^2 - 2 x.y
    # leaves a cell up to ~0.05 from itself, which UMAP's rho (nearest positive distance) reads as the
    # nearest neighbour, and that round-off varies with the process's threads: the clusters would too
    distances = np.sqrt(((embedding[:, None, :] - embedding[indices]) ** 2).sum(axis=2))
    connectivities = umap_connectivities(indices, distances)
    clusters, _ = communities_with_n(connectivities, n_clusters, method="leiden", seed=seed)
    return clusters


def _labelled(truth: Any) -> tuple[np.ndarray, np.ndarray]:
    """Positions and labels of the labelled cells, or the reason the ARI cannot be computed."""
    labels = getattr(truth, "labels", None)
    if labels is None:
        raise MetricNotComputableError("the input has no cell-type labels (obs['cell_type'] or --label-key)")
    if getattr(truth, "masked", None) is None:
        raise MetricNotComputableError("the truth lacks the masked matrix the model saw")
    labels = np.asarray(labels, dtype=object)
    known = np.flatnonzero(np.array([label is not None for label in labels], dtype=bool))
    if np.unique(labels[known].astype(str)).size < 2:
        raise MetricNotComputableError("fewer than 2 labelled cell types")
    return known, labels[known].astype(str)


def _ari(truth: Any, matrix: Any) -> float:
    from dance.core.metrics.labels import adjusted_rand_index

    known, labels = _labelled(truth)
    cache = truth.__dict__.setdefault("cache", {})
    if "genes" not in cache:
        cache["genes"] = variable_genes(truth.masked)
    clusters = expression_clusters(matrix, cache["genes"], int(np.unique(labels).size))
    return adjusted_rand_index(labels, clusters[known])


def ari_imputed(truth: Any, evaluation: ImputationEvaluation) -> float:
    """ARI with the cell types of Leiden clusters of the imputed matrix (module docstring)."""
    if "ari_imputed" not in evaluation.cache:
        evaluation.cache["ari_imputed"] = _ari(truth, evaluation.imputed)
    return evaluation.cache["ari_imputed"]


def ari_masked(truth: Any, evaluation: ImputationEvaluation) -> float:
    """The same ARI for the masked matrix the model was given: the reference ``ari_imputed`` should beat."""
    cache = truth.__dict__.setdefault("cache", {})
    if "ari_masked" not in cache:
        cache["ari_masked"] = _ari(truth, truth.masked)
    return cache["ari_masked"]


def ari_gain(truth: Any, evaluation: ImputationEvaluation) -> float:
    """``ari_imputed - ari_masked``: what imputing did to the clustering (negative: it blurred the cell types)."""
    return ari_imputed(truth, evaluation) - ari_masked(truth, evaluation)
