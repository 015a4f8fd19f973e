"""The ``knn_smoothing`` baseline: each cell's expression averaged over its nearest cells."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from dance.core.models.base import ModelParams
from dance.core.tasks.imputation import ImputationModel
from dance.core.transforms.pipeline import step


class KNNSmoothing(ImputationModel):
    """Baseline: the library-normalised counts of each cell and its nearest cells, averaged and
    scaled back to the cell's own library size (count scale).

    Neighbours (``k``, the cell itself included, as scanpy counts them) are found by FAISS
    (``dance.core.neighbors``) on the ``n_pcs`` principal components of log-normalised
    (1e4 per cell), scaled expression of the ``n_top_genes`` most variable genes (scanpy). The
    smoothing is one sparse product with the row-normalised kNN matrix, never a dense
    cells x cells matrix. A simplified kNN-smoothing (Wagner, Yan & Yanai 2018): one step with
    fixed ``k``, averaging instead of pooling, so the output stays on the cell's count scale.
    Every entry is replaced, observed ones included. ``fit`` learns nothing: ``predict`` smooths
    over the cells it is given.
    """

    name = "knn_smoothing"

    class Params(ModelParams):
        k: int = Field(15, ge=1, description="cells averaged per cell, itself included")
        n_pcs: int = Field(50, ge=2, description="principal components the neighbours are found in")
        n_top_genes: int = Field(2000, ge=10, description="most variable genes the principal components are computed from")

    default_pipeline = (step("select_counts"),)

    def _fit(self, data: Any) -> None:
        self.n_genes_ = data.n_vars

    def _embedding(self, counts: sp.csr_matrix) -> np.ndarray:
        from anndata import AnnData

        from dance.core.transforms import preprocessing as pp

        adata = AnnData(X=counts.copy())
        pp.normalize_total(adata, target_sum=1e4)
        pp.log1p(adata)
        pp.highly_variable_genes(adata, n_top_genes=self.params.n_top_genes)
        pp.scale(adata, max_value=10.0)
        pp.pca(adata, n_comps=self.params.n_pcs, seed=self.seed)
        return np.asarray(adata.obsm["X_pca"])

    def _predict(self, data: Any) -> Any:
        from dance.core.neighbors import knn

        counts = sp.csr_matrix(data.X, dtype=np.float32)
        n = counts.shape[0]
        library = np.asarray(counts.sum(axis=1), dtype=np.float64).ravel()
        median = np.median(library[library > 0]) if (library > 0).any() else 1.0
        library = np.where(library > 0, library, median)
        indices, _ = knn(self._embedding(counts), min(self.params.k, n), seed=self.seed)
        k = indices.shape[1]
        weights = sp.csr_matrix((np.full(n * k, 1.0 / k), (np.repeat(np.arange(n), k), indices.ravel())), shape=(n, n))
        profiles = sp.diags(1.0 / library) @ counts.astype(np.float64)
        smoothed = sp.diags(library) @ (weights @ profiles)
        self.notes_ = {"knn_smoothing_neighbours": int(k)}
        return sp.csr_matrix(smoothed, dtype=np.float32)
