"""Numerical kernels of the scIB integration metrics (Luecken et al. 2022, Nat Methods 19:41-50),
in NumPy / SciPy / FAISS (no JAX, no torch), written to agree with the ``scib-metrics`` package
(Gayoso et al.) and with ``scib``.

* :func:`silhouette_samples` -- exact Euclidean silhouettes, chunked, with distances and
  per-group sums as BLAS products.
* :func:`lisi` -- local inverse Simpson index (Korsunsky et al. 2019) from a kNN result: the
  Gaussian kernel's bandwidth is found per cell by bisection to a target perplexity, vectorised
  over cells (scib-metrics' ``compute_simpson_index``, 50 steps, tolerance 1e-5).
* :func:`kbet_acceptance` and :func:`diffusion_neighbors` -- the kBET chi-square test (Büttner et
  al. 2019, Nat Methods 16:43) on neighbourhoods found in a diffusion map of a connectivity
  graph, as scib-metrics' ``kbet_per_label`` does.
* :func:`principal_component_regression` -- variance of an embedding explained by the batch.
* :func:`isolated_labels` -- labels present in the fewest batches.
* :func:`stratified_subsample` -- a seeded label-stratified subset, for the metrics that are
  quadratic in the number of cells.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = [
    "diffusion_neighbors",
    "isolated_labels",
    "kbet_acceptance",
    "lisi",
    "principal_component_regression",
    "silhouette_samples",
    "stratified_subsample",
]


def _codes(labels: Any) -> tuple[np.ndarray, np.ndarray]:
    names, codes = np.unique(np.asarray(labels).astype(str), return_inverse=True)
    return codes.astype(np.int64), names


def stratified_subsample(labels: Any, max_cells: int, *, seed: int = 0, min_per_label: int = 50) -> np.ndarray:
    """Sorted indices of at most about ``max_cells`` cells, each label keeping its share
    (at least ``min(min_per_label, its size)`` cells); all cells when there are few enough."""
    codes, names = _codes(labels)
    n = len(codes)
    if n <= max_cells:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    chosen = []
    for code in range(len(names)):
        members = np.flatnonzero(codes == code)
        take = min(len(members), max(min_per_label, round(max_cells * len(members) / n)))
        chosen.append(rng.choice(members, size=take, replace=False))
    return np.sort(np.concatenate(chosen))


def silhouette_samples(x: Any, labels: Any, *, chunk_size: int = 2048) -> np.ndarray:
    """Silhouette of every cell (Rousseeuw 1987) with Euclidean distances, as scikit-learn's
    ``silhouette_samples``: ``(b - a) / max(a, b)`` with ``a`` the mean distance to the other
    cells of its label and ``b`` the smallest mean distance to another label's cells; cells of
    singleton labels get 0. Exact and O(n^2): subsample large inputs first."""
    x = np.asarray(x, dtype=np.float64)
    codes, names = _codes(labels)
    n, n_labels = len(codes), len(names)
    if n_labels < 2:
        raise ValueError("silhouettes need at least two labels")
    onehot = sp.csr_matrix((np.ones(n), (np.arange(n), codes)), shape=(n, n_labels))
    sizes = np.bincount(codes, minlength=n_labels).astype(np.float64)
    squared = np.einsum("ij,ij->i", x, x)
    intra = np.empty(n)
    inter = np.empty(n)
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        d2 = squared[start:stop, None] + squared[None, :] - 2.0 * (x[start:stop] @ x.T)
        np.maximum(d2, 0.0, out=d2)
        d2[np.arange(stop - start), np.arange(start, stop)] = 0.0
        dist = np.sqrt(d2, out=d2)
        per_label = np.asarray((onehot.T @ dist.T).T)  # chunk x labels: summed distances
        own = codes[start:stop]
        rows = np.arange(stop - start)
        intra[start:stop] = per_label[rows, own]
        per_label /= sizes[None, :]
        per_label[rows, own] = np.inf
        inter[start:stop] = per_label.min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        intra /= sizes[codes] - 1
        silhouette = (inter - intra) / np.maximum(intra, inter)
    return np.nan_to_num(silhouette)


def _perplexity_kernel(distances: np.ndarray, valid: np.ndarray, perplexity: float, tol: float = 1e-5, max_tries: int = 50) -> np.ndarray:
    """Row-normalised Gaussian weights ``exp(-d * beta)`` whose entropy is ``log(perplexity)``,
    found by bisection on ``beta`` per row (started at 1, doubled / halved until bracketed),
    stopping when ``|H - log(perplexity)| < tol`` or after ``max_tries`` steps. Rows whose weights
    all vanish get entropy 0 (returned as all-zero rows)."""
    target = np.log(perplexity)
    n = distances.shape[0]
    beta = np.ones(n)
    low = np.full(n, -np.inf)
    high = np.full(n, np.inf)

    def entropy(b: np.ndarray, rows: np.ndarray | slice) -> tuple[np.ndarray, np.ndarray]:
        d = distances[rows]
        p = np.where(valid[rows], np.exp(-d * b[:, None]), 0.0)
        total = p.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            h = np.where(total == 0, 0.0, np.log(total) + b * (d * p).sum(axis=1) / total)
            p = np.where(total[:, None] == 0, 0.0, p / total[:, None])
        return h, p

    h, p = entropy(beta, slice(None))
    diff = h - target
    active = np.flatnonzero(np.abs(diff) >= tol)
    for _ in range(max_tries):
        if active.size == 0:
            break
        d_act, b_act = diff[active], beta[active]
        lo, hi = low[active], high[active]
        up = d_act > 0
        lo = np.where(up, b_act, lo)
        hi = np.where(up, hi, b_act)
        b_new = np.where(up, np.where(np.isinf(hi), b_act * 2, (b_act + hi) / 2), np.where(np.isinf(lo), b_act / 2, (b_act + lo) / 2))
        low[active], high[active], beta[active] = lo, hi, b_new
        h_act, p_act = entropy(beta[active], active)
        h[active], p[active] = h_act, p_act
        diff[active] = h_act - target
        active = active[np.abs(diff[active]) >= tol]
    p[h == 0] = 0.0
    return p


def lisi(
    indices: np.ndarray, distances: np.ndarray, labels: Any, *, perplexity: float | None = None, chunk_size: int = 50_000
) -> np.ndarray:
    """Local inverse Simpson index of every cell (Korsunsky et al. 2019) from its k nearest
    neighbours (self included and then ignored, as scib-metrics' ``lisi_knn``); the perplexity
    defaults to ``k // 3``. Cells whose kernel vanishes get -1, as in scib-metrics."""
    codes, names = _codes(labels)
    n_labels = len(names)
    n, k = indices.shape
    perplexity = float(np.floor(k / 3)) if perplexity is None else float(perplexity)
    out = np.empty(n)
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        idx = indices[start:stop]
        valid = idx != np.arange(start, stop)[:, None]
        p = _perplexity_kernel(np.asarray(distances[start:stop], dtype=np.float64), valid, perplexity)
        neighbour_codes = codes[idx]
        simpson = np.zeros(stop - start)
        for code in range(n_labels):
            mass = (p * (neighbour_codes == code)).sum(axis=1)
            simpson += mass * mass
        zero = p.sum(axis=1) == 0
        simpson[zero] = -1.0
        out[start:stop] = 1.0 / simpson
    return out


def diffusion_neighbors(connectivities: sp.spmatrix, k: int, *, n_comps: int = 100, seed: int = 0) -> np.ndarray:
    """Indices of the ``k + 1`` nearest cells (self first) in the multiscale diffusion map of a
    connectivity graph (Coifman & Lafon 2006), as scib-metrics' ``diffusion_nn``: density-
    normalised symmetric transitions, their ``n_comps`` leading eigenvectors scaled by
    ``lambda / (1 - lambda)`` (``lambda == 1`` left as 1, in float32 as there), neighbours by FAISS."""
    from scipy.sparse.linalg import eigsh

    from dance.core.neighbors import knn

    graph = sp.csr_matrix(connectivities, dtype=np.float64)
    q = np.asarray(graph.sum(axis=0)).ravel()
    density = sp.diags(1.0 / q)
    kernel = density @ graph @ density
    z = np.sqrt(np.asarray(kernel.sum(axis=0)).ravel())
    transitions = sp.diags(1.0 / z) @ kernel @ sp.diags(1.0 / z)
    n_comps = int(min(transitions.shape[0] - 1, n_comps))
    v0 = np.random.default_rng(seed).uniform(-1, 1, transitions.shape[0])
    evals, evecs = eigsh(transitions, k=n_comps, which="LM", v0=v0)
    evals, evecs = evals.astype(np.float32)[::-1], evecs.astype(np.float32)[:, ::-1]
    evals = evals + np.float32(1e-8)
    scaled = np.array([e if e == 1 else e / (1 - e) for e in evals], dtype=np.float32)
    embedding = np.ascontiguousarray(evecs * scaled)
    indices, _ = knn(embedding, k + 1, seed=seed)
    return indices


def kbet_acceptance(neighbor_indices: np.ndarray, batch: Any, *, alpha: float = 0.05) -> float:
    """kBET (Büttner et al. 2019): the fraction of cells whose neighbourhood batch composition a
    chi-square test does not reject (level ``alpha``) against the global batch frequencies;
    every row of ``neighbor_indices`` (self included, as scib-metrics' ``kbet``) is one test."""
    from scipy.stats import chi2

    codes, names = _codes(batch)
    n_batches = len(names)
    expected_freq = np.bincount(codes, minlength=n_batches) / len(codes)
    neighbour_codes = codes[neighbor_indices]
    observed = np.stack([(neighbour_codes == b).sum(axis=1) for b in range(n_batches)], axis=1)
    expected = expected_freq * neighbor_indices.shape[1]
    statistic = ((observed - expected) ** 2 / expected).sum(axis=1)
    p_values = chi2.sf(statistic, n_batches - 1)
    return float((p_values >= alpha).mean())


def principal_component_regression(x: Any, covariate: Any, *, n_comps: int | None = 50) -> float:
    """Variance of ``x`` explained by a categorical covariate (Büttner et al. 2019; scIB):
    ``sum_i R2_i var_i / sum_i var_i`` over the top ``n_comps`` principal components (all when
    None or when ``x`` has no more dimensions), ``R2_i`` of the regression of PC ``i`` on the
    one-hot covariate. With all components this is the between-group share of the total sum of
    squares, computed without a PCA."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=0)
    codes, names = _codes(covariate)
    if n_comps is not None and n_comps < min(x.shape):
        covariance = x.T @ x
        values, vectors = np.linalg.eigh(covariance)
        vectors = vectors[:, np.argsort(values)[::-1][:n_comps]]
        x = x @ vectors
    sizes = np.bincount(codes, minlength=len(names)).astype(np.float64)
    means = np.zeros((len(names), x.shape[1]))
    np.add.at(means, codes, x)
    means /= sizes[:, None]
    between = (sizes[:, None] * means**2).sum(axis=0)
    total = (x**2).sum(axis=0)
    if total.sum() == 0:
        return 0.0
    return float(between.sum() / total.sum())


def isolated_labels(labels: Any, batch: Any, *, iso_threshold: int | None = None) -> list[str]:
    """Labels present in at most ``iso_threshold`` batches; by default in the fewest batches any
    label is found in (scIB's definition, so every label counts when all are in every batch)."""
    labels = np.asarray(labels).astype(str)
    batch = np.asarray(batch).astype(str)
    pairs = {(lab, b) for lab, b in zip(labels.tolist(), batch.tolist(), strict=True)}
    counts: dict[str, int] = {}
    for lab, _ in pairs:
        counts[lab] = counts.get(lab, 0) + 1
    threshold = min(counts.values()) if iso_threshold is None else iso_threshold
    return sorted(lab for lab, c in counts.items() if c <= threshold)
