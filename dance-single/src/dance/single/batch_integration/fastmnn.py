"""fastMNN: mutual-nearest-neighbour correction in a multi-batch PCA space.

Haghverdi L, Lun ATL, Morgan MD, Marioni JC (2018) Batch effects in single-cell RNA-sequencing
data are corrected by matching mutual nearest neighbors. Nat Biotechnol 36:421-427; the fast
PCA-space variant as implemented in Bioconductor's batchelor (``fastMNN`` / ``reducedMNN``,
Lun 2018, "Further MNN algorithm development").

Steps (batchelor's ``.fast_mnn_core``):

1. Cosine-normalise each cell's log-expression; multi-batch PCA: centre on the mean of the
   per-batch means, give every batch the same total weight in the SVD (rows of batch ``b``
   scaled by ``1 / sqrt(n_b)``), project all cells on the top ``n_comps`` components. With
   ``use_rep`` the given embedding is corrected directly (``reducedMNN``).
2. Merge the batches progressively (in sorted order of their names, or ``merge_order``): the
   merged reference is the left side, the next batch the right side.
3. Remove from both sides the variation along the batch vectors of earlier merges.
4. Mutual nearest neighbours (``k`` each way, FAISS) between reference and batch; a correction
   vector per pair (reference minus batch cell), averaged per batch cell involved.
5. The average batch vector (mean of those) defines a direction along which each side is
   centred, removing within-batch variation along the batch effect.
6. Correction vectors are recomputed and smoothed onto every batch cell: by a Gaussian kernel
   over all MNN-involved cells with MNN-density weighting (Haghverdi et al. 2018,
   ``smoothing="gaussian"``, bandwidth ``sigma``) or by tricube weights over the ``k`` nearest
   MNN-involved cells with bandwidth ``ndist`` times the median of their distances
   (batchelor's current default, ``smoothing="tricube"``, scale-free).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import Field

from dance.core.neighbors import knn
from dance.core.tasks.batch_integration import BatchIntegrationModel
from dance.core.transforms.pipeline import Step, step
from dance.single.batch_integration._mnn import batch_codes, cosine_normalize, mutual_pairs
from dance.single.batch_integration.input_embedding import EmbeddingInput, input_embedding

__all__ = ["FastMNN", "MNNResult", "fast_mnn", "multi_batch_pca"]


@dataclass
class MNNResult:
    """Corrected coordinates (input cell order) and per-merge diagnostics."""

    corrected: np.ndarray
    merge_order: list[str]
    n_pairs: list[int] = field(default_factory=list)
    batch_magnitude: list[float] = field(default_factory=list)
    skipped: list[bool] = field(default_factory=list)


def multi_batch_pca(x: Any, codes: np.ndarray, n_comps: int = 50, *, seed: int = 0) -> np.ndarray:
    """batchelor's ``multiBatchPCA``: centre on the average of the per-batch means, weight every
    batch equally in the SVD, project every cell (unweighted) on the top ``n_comps`` components."""
    from sklearn.utils.extmath import randomized_svd

    x = np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=np.float64)
    n_batches = int(codes.max()) + 1
    sizes = np.bincount(codes, minlength=n_batches).astype(np.float64)
    means = np.zeros((n_batches, x.shape[1]))
    np.add.at(means, codes, x)
    means /= sizes[:, None]
    centered = x - means.mean(axis=0)
    scaled = centered / np.sqrt(sizes[codes])[:, None]
    n_comps = int(min(n_comps, min(x.shape) - 1)) if min(x.shape) > 1 else 1
    if min(x.shape) <= 500:
        _, _, vt = np.linalg.svd(scaled, full_matrices=False)
        vt = vt[:n_comps]
    else:
        _, _, vt = randomized_svd(scaled, n_comps, n_iter=7, random_state=seed)
    return centered @ vt.T


def _center_along(data: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Shift every cell along the unit ``vector`` to the mean position of all cells on it."""
    unit = vector / np.linalg.norm(vector)
    location = data @ unit
    return data + np.outer(location.mean() - location, unit)


def _average_correction(left: np.ndarray, m1: np.ndarray, right: np.ndarray, m2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per batch cell in an MNN pair: the mean of (reference cell - batch cell) over its pairs."""
    cells, inverse, counts = np.unique(m2, return_inverse=True, return_counts=True)
    averaged = np.zeros((len(cells), left.shape[1]))
    np.add.at(averaged, inverse, left[m1] - right[m2])
    return averaged / counts[:, None], cells


def _tricube_correction(right: np.ndarray, correction: np.ndarray, mnn_cells: np.ndarray, k: int, ndist: float, seed: int) -> np.ndarray:
    """Tricube-weighted average of the corrections of the ``k`` nearest MNN-involved cells,
    bandwidth ``ndist`` times the distance to the middle one (batchelor ``.compute_tricube_average``)."""
    k = int(min(k, len(mnn_cells)))
    indices, distances = knn(right[mnn_cells], query=right, k=k, seed=seed)
    distances = distances.astype(np.float64)
    middle = int(np.ceil(k / 2)) - 1
    bandwidth = np.maximum(1e-8, distances[:, middle] * ndist)
    relative = np.minimum(distances / bandwidth[:, None], 1.0)
    weights = (1 - relative**3) ** 3
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("ik,ikd->id", weights, correction[indices])


def _gaussian_correction(right: np.ndarray, correction: np.ndarray, mnn_cells: np.ndarray, sigma: float, chunk: int = 4096) -> np.ndarray:
    """Gaussian-kernel smoothing of the corrections (Haghverdi et al. 2018): cell ``i`` gets
    ``sum_m w_im c_m / sum_m w_im`` with ``w_im = exp(-|x_i - x_m|^2 / sigma) / density_m`` and
    ``density_m`` the kernel mass of the MNN-involved cells around ``m``."""
    from scipy.special import logsumexp

    anchors = right[mnn_cells]
    anchor_sq = (anchors**2).sum(1)

    def log_kernel(x: np.ndarray) -> np.ndarray:
        d2 = (x**2).sum(1)[:, None] + anchor_sq[None, :] - 2 * x @ anchors.T
        return -np.maximum(d2, 0.0) / sigma

    log_density = logsumexp(log_kernel(anchors), axis=1)
    out = np.empty((right.shape[0], correction.shape[1]))
    for start in range(0, right.shape[0], chunk):
        logw = log_kernel(right[start : start + chunk]) - log_density[None, :]
        logw -= logw.max(axis=1, keepdims=True)
        w = np.exp(logw)
        out[start : start + chunk] = (w @ correction) / w.sum(axis=1, keepdims=True)
    return out


def fast_mnn(
    x: Any,
    batch: Any,
    *,
    k: int = 20,
    smoothing: Literal["tricube", "gaussian"] = "tricube",
    ndist: float = 3.0,
    sigma: float = 0.1,
    merge_order: list[str] | None = None,
    min_batch_skip: float = 0.0,
    seed: int = 0,
) -> MNNResult:
    """MNN-correct coordinates ``x`` (cells x dims, e.g. multi-batch PCs) across batches.

    Parameters
    ----------
    x
        Cells x dims.
    batch
        Batch of each cell.
    k
        Neighbours searched each way for mutual pairs, and for the tricube smoothing.
    smoothing, ndist, sigma
        Tricube weights over the ``k`` nearest MNN cells with bandwidth ``ndist`` x median
        distance, or a Gaussian kernel of bandwidth ``sigma`` (on squared distances).
    merge_order
        Batch names in merge order; sorted names by default.
    min_batch_skip
        Skip a merge whose batch effect magnitude (norm of the mean correction over the root
        mean square norm of the per-cell corrections) is below this.
    seed
        Seed of the FAISS index training (exact search below 200,000 cells is not random).
    """
    x = np.asarray(x, dtype=np.float64)
    codes, names = batch_codes(batch)
    order = list(names) if merge_order is None else [str(b) for b in merge_order]
    if sorted(order) != sorted(names):
        raise ValueError(f"merge_order {order} must list every batch once: {names}")
    index_of = {name: i for i, name in enumerate(names)}
    members = [np.flatnonzero(codes == index_of[name]) for name in order]

    result = MNNResult(corrected=np.empty_like(x), merge_order=order)
    left, left_cells, left_extras = x[members[0]], members[0], []
    for cells in members[1:]:
        right = x[cells]
        for vector in left_extras:  # the batch vectors earlier merges removed from the reference
            right = _center_along(right, vector)
        m1, m2 = mutual_pairs(left, right, k, k, seed=seed)
        result.n_pairs.append(len(m1))
        extras: list[np.ndarray] = []
        if len(m1) == 0:
            result.batch_magnitude.append(0.0)
            result.skipped.append(True)
        else:
            averaged, _ = _average_correction(left, m1, right, m2)
            overall = averaged.mean(axis=0)
            mean_square = float((averaged**2).sum(axis=1).mean())
            magnitude = float(np.sqrt((overall**2).sum() / mean_square)) if mean_square > 0 else 0.0
            result.batch_magnitude.append(magnitude)
            skip = magnitude < min_batch_skip or not np.any(overall)
            result.skipped.append(bool(skip))
            if not skip:
                left = _center_along(left, overall)
                right = _center_along(right, overall)
                averaged, mnn_cells = _average_correction(left, m1, right, m2)
                if smoothing == "tricube":
                    right = right + _tricube_correction(right, averaged, mnn_cells, k, ndist, seed)
                elif smoothing == "gaussian":
                    right = right + _gaussian_correction(right, averaged, mnn_cells, sigma)
                else:
                    raise ValueError(f"unknown smoothing '{smoothing}'")
                extras = [overall]
        left = np.vstack([left, right])
        left_cells = np.concatenate([left_cells, cells])
        left_extras = [*left_extras, *extras]
    result.corrected[left_cells] = left
    return result


class FastMNN(BatchIntegrationModel):
    """fastMNN (Haghverdi et al. 2018, Nat Biotechnol 36:421-427; batchelor's fast PCA-space
    version): cosine normalisation, multi-batch PCA, and progressive mutual-nearest-neighbour
    merging with removal of the variation along the batch vector and smoothed correction vectors
    (see :func:`fast_mnn`). The pipeline log-normalises and keeps ``n_top_genes`` highly
    variable genes; ``use_rep`` corrects an existing embedding instead (batchelor's
    ``reducedMNN``; no cosine normalisation or PCA). Output: the corrected PCs.
    """

    name = "fastmnn"
    transductive = True

    class Params(EmbeddingInput):
        k: int = Field(20, ge=1, description="neighbours for mutual pairs (and tricube smoothing)")
        smoothing: Literal["tricube", "gaussian"] = Field(
            "tricube", description="tricube over the k nearest MNN cells (batchelor) or Gaussian kernel (Haghverdi 2018)"
        )
        ndist: float = Field(3.0, gt=0, description="tricube bandwidth in median neighbour distances")
        sigma: float = Field(0.1, gt=0, description="Gaussian bandwidth on squared distances (smoothing='gaussian')")
        cos_norm: bool = Field(True, description="cosine-normalise expression before the PCA")
        merge_order: list[str] | None = Field(None, description="batch names in merge order; sorted names when unset")
        min_batch_skip: float = Field(0.0, ge=0, description="skip merges with a smaller relative batch effect")

    def build_pipeline(self) -> tuple[Step, ...]:
        if self.params.use_rep is not None:
            return ()
        return (step("log_normalize"), step("highly_variable_genes", n_top_genes=self.params.n_top_genes))

    def _fit(self, data: Any) -> None:
        p = self.params
        codes, _ = batch_codes(data.obs[self.keys.batch_key].to_numpy())
        if p.use_rep is not None:
            coordinates = input_embedding(data, p).astype(np.float64)
        else:
            x = data.X.toarray() if hasattr(data.X, "toarray") else np.asarray(data.X)
            x = np.asarray(x, dtype=np.float64)
            if p.cos_norm:
                x = cosine_normalize(x)
            coordinates = multi_batch_pca(x, codes, p.n_comps, seed=self.seed)
        result = fast_mnn(
            coordinates,
            data.obs[self.keys.batch_key].to_numpy(),
            k=p.k,
            smoothing=p.smoothing,
            ndist=p.ndist,
            sigma=p.sigma,
            merge_order=p.merge_order,
            min_batch_skip=p.min_batch_skip,
            seed=self.seed,
        )
        self.embedding_ = result.corrected.astype(np.float32)
        self.notes_ = {
            "merge_order": ",".join(result.merge_order),
            "mnn_pairs": ",".join(map(str, result.n_pairs)),
            "merges_skipped": int(sum(result.skipped)),
        }

    def _predict(self, data: Any) -> Any:
        return self.embedding_
