"""The value scales of the NeurIPS 2021 multimodal challenge, applied to counts.

The challenge scored modality prediction by RMSE on these scales (Luecken et al. 2021, NeurIPS
Datasets and Benchmarks; checked numerically on its starter files, see
``shared/research/reference_implementations.md`` section 1):

* gene expression: ``ln(1 + counts / size_factor)``, size factors centred at 1 (scran's
  convention; here the library size over the mean library size);
* proteins (ADT): per-cell centred log ratio as Seurat computes it with ``margin = 2``,
  ``ln(1 + x / exp(mean_j ln(1 + x_j)))``;
* chromatin accessibility (ATAC): binarised counts.

Every function keeps the counts in ``layers['counts']`` and puts the scaled values in ``X``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = ["apply_challenge_scale", "binarise", "clr_seurat", "log_normalise"]


def log_normalise(counts: sp.spmatrix | np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """``ln(1 + counts / size_factor)`` (sparse) and the size factors (library size / mean library size)."""
    matrix = sp.csr_matrix(counts, dtype=np.float32)
    totals = np.asarray(matrix.sum(axis=1), dtype=np.float64).ravel()
    mean_total = totals[totals > 0].mean() if (totals > 0).any() else 1.0
    size_factors = np.where(totals > 0, totals / mean_total, 1.0)
    scaled = sp.diags((1.0 / size_factors).astype(np.float32)) @ matrix
    scaled = sp.csr_matrix(scaled, dtype=np.float32)
    scaled.data = np.log1p(scaled.data)
    return scaled, size_factors.astype(np.float32)


def clr_seurat(counts: sp.spmatrix | np.ndarray) -> np.ndarray:
    """Per-cell centred log ratio of protein counts, Seurat's ``NormalizeData(method = "CLR",
    margin = 2)``: ``ln(1 + x / exp(mean_j ln(1 + x_j)))`` (dense: panels are small)."""
    x = np.asarray(counts.toarray() if sp.issparse(counts) else counts, dtype=np.float64)
    geometric = np.exp(np.log1p(x).mean(axis=1, keepdims=True))
    return np.log1p(x / geometric).astype(np.float32)


def binarise(counts: sp.spmatrix | np.ndarray) -> sp.csr_matrix:
    """1 where a peak has any read, else 0 (sparse)."""
    matrix = sp.csr_matrix(counts, dtype=np.float32)
    matrix.eliminate_zeros()
    matrix.data = np.ones_like(matrix.data)
    return matrix


def apply_challenge_scale(adata: AnnData, kind: Literal["gex", "adt", "atac"]) -> AnnData:
    """Put the challenge's scale of ``kind`` into ``adata.X`` from the counts in ``X``; the counts
    go to ``layers['counts']`` (and expression's size factors to ``obs['size_factors']``)."""
    counts = sp.csr_matrix(adata.X, dtype=np.float32)
    adata.layers["counts"] = counts
    if kind == "gex":
        adata.X, adata.obs["size_factors"] = log_normalise(counts)
    elif kind == "adt":
        adata.X = clr_seurat(counts)
    elif kind == "atac":
        adata.X = binarise(counts)
    else:
        raise ValueError(f"kind must be 'gex', 'adt' or 'atac'; got {kind!r}")
    adata.uns["scale"] = {"gex": "log1p(counts / size factor)", "adt": "CLR (Seurat, per cell)", "atac": "binarised"}[kind]
    return adata
