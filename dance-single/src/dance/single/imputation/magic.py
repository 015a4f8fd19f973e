"""MAGIC: Markov affinity-based graph imputation of cells."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from dance.core.models.base import ModelParams
from dance.core.tasks.imputation import ImputationModel
from dance.core.transforms.pipeline import step


def alpha_decay_kernel(embedding: np.ndarray, knn: int, decay: float, knn_max: int, threshold: float = 1e-4) -> sp.csr_matrix:
    """MAGIC's adaptive kernel: ``exp(-(d(i, j) / sigma_i) ** decay)`` with ``sigma_i`` the distance
    to the ``knn``-th neighbour of ``i``, evaluated on the ``knn_max`` nearest neighbours and
    truncated below ``threshold``, symmetrised as (K + K^T) / 2."""
    from dance.core.neighbors import knn as nearest

    n = embedding.shape[0]
    k_search = int(min(knn_max, n))
    indices, distances = nearest(embedding, k_search)
    distances = distances.astype(np.float64)
    sigma = distances[:, min(knn, k_search - 1)]
    sigma = np.where(sigma > 0, sigma, np.max(sigma) if np.max(sigma) > 0 else 1.0)
    values = np.exp(-((distances / sigma[:, None]) ** decay))
    values[values < threshold] = 0.0
    kernel = sp.csr_matrix((values.ravel(), indices.ravel(), np.arange(0, n * k_search + 1, k_search)), shape=(n, n))
    kernel.eliminate_zeros()
    return ((kernel + kernel.T) / 2).tocsr()


class MAGIC(ImputationModel):
    """MAGIC (van Dijk et al. 2018, Cell 174:716-729).

    Counts are library-size normalised (to the median library) and square-root transformed; an
    adaptive alpha-decay kernel on the ``n_pca`` principal components gives a Markov matrix
    ``P``; the imputed data are ``P**t`` applied to the transformed data, mapped back to the count
    scale (squared and multiplied by each cell's library size over the median). The diffusion
    operator is built on the data being imputed: MAGIC has no parameters to learn.
    """

    name = "magic"

    class Params(ModelParams):
        knn: int = Field(5, ge=1, description="neighbour whose distance sets each cell's kernel bandwidth")
        knn_max: int = Field(15, ge=2, description="neighbours on which the kernel is evaluated")
        decay: float = Field(1.0, gt=0, description="alpha of the alpha-decay kernel")
        t: int = Field(3, ge=1, description="diffusion steps")
        n_pca: int = Field(100, ge=2, description="principal components for the kernel's distances")

    default_pipeline = (step("select_counts"),)

    def _fit(self, data: Any) -> None:
        self.n_genes_ = data.n_vars

    def _predict(self, data: Any) -> Any:
        from sklearn.decomposition import PCA

        counts = data.X.toarray() if sp.issparse(data.X) else np.asarray(data.X, dtype=np.float64)
        counts = counts.astype(np.float64)
        library = counts.sum(axis=1)
        median = np.median(library[library > 0]) if (library > 0).any() else 1.0
        scale = np.where(library > 0, library / median, 1.0)
        transformed = np.sqrt(counts / scale[:, None])
        n_pca = int(min(self.params.n_pca, transformed.shape[0] - 1, transformed.shape[1]))
        embedding = PCA(n_components=n_pca, random_state=self.seed).fit_transform(transformed)
        kernel = alpha_decay_kernel(embedding, self.params.knn, self.params.decay, max(self.params.knn_max, self.params.knn + 1))
        markov = sp.diags(1.0 / np.asarray(kernel.sum(axis=1)).ravel()) @ kernel
        imputed = transformed
        for _ in range(self.params.t):
            imputed = markov @ imputed
        return (np.asarray(imputed) ** 2 * scale[:, None]).astype(np.float32)
