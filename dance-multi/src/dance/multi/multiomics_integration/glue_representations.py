"""The cell representations GLUE's encoders read, fitted once and applied to new cells.

scglue's tutorial (Cao & Gao 2022, Nat Biotechnol 40:1458) gives the encoders 100 PCA components
of the expression and 100 LSI components of the peaks, computed by scanpy and ``scglue.data.lsi``
on the training cells only. A saved GLUE model must encode new cells the same way, so each
representation here keeps what it learnt on the training cells (library-size target, gene means
and deviations, principal axes; inverse document frequencies, right singular vectors and
singular values) and projects new cells with it. On the training cells the projection gives the
same components as the fit.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

__all__ = ["ExpressionPCA", "PeakLSI", "Representation", "representation_for"]


class Representation:
    """A fitted map from a modality's counts (cells x features) to encoder inputs."""

    kind: ClassVar[str]
    #: the arrays that :meth:`arrays` writes and :meth:`from_arrays` reads
    fields: ClassVar[tuple[str, ...]]

    def __init__(self, n_components: int, seed: int) -> None:
        self.n_components = n_components
        self.seed = seed

    def fit_transform(self, counts: Any) -> np.ndarray:
        raise NotImplementedError

    def transform(self, counts: Any) -> np.ndarray:
        raise NotImplementedError

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The fitted state as named arrays (for saved models)."""
        return {f"{prefix}.{name}": np.asarray(getattr(self, name)) for name in self.fields}

    @classmethod
    def from_arrays(cls, arrays: dict[str, Any], prefix: str, seed: int = 0) -> Representation:
        """The representation saved by :meth:`arrays`."""
        first = np.asarray(arrays[f"{prefix}.{cls.fields[-1]}"])
        representation = cls(int(first.shape[0]), seed)
        for name in cls.fields:
            setattr(representation, name, np.asarray(arrays[f"{prefix}.{name}"]))
        return representation


class ExpressionPCA(Representation):
    """The tutorial's expression representation: counts scaled to the training cells' median
    library size, ``log1p``, each gene standardised with the training cells' mean and deviation
    and clipped at 10 (``sc.pp.scale(max_value=10)``), then projected on the training cells'
    principal axes (``sc.tl.pca``)."""

    kind = "pca"
    fields = ("target_sum", "mean", "scale", "pca_mean", "components")

    def _scaled(self, counts: Any) -> np.ndarray:
        x = np.asarray(sp.csr_matrix(counts, dtype=np.float64).todense())
        totals = np.clip(x.sum(axis=1, keepdims=True), 1e-12, None)
        x = np.log1p(x / totals * float(np.ravel(self.target_sum)[0]))
        return np.clip((x - self.mean) / self.scale, None, 10)

    def fit_transform(self, counts: Any) -> np.ndarray:
        from sklearn.decomposition import PCA

        x = sp.csr_matrix(counts, dtype=np.float64)
        self.target_sum = np.array([np.median(np.asarray(x.sum(axis=1)).ravel())])
        logged = np.asarray(x.todense())
        logged = np.log1p(logged / np.clip(logged.sum(axis=1, keepdims=True), 1e-12, None) * float(self.target_sum[0]))
        self.mean = logged.mean(axis=0)
        sd = logged.std(axis=0)
        self.scale = np.where(sd > 0, sd, 1.0)
        scaled = self._scaled(counts)
        n = int(min(self.n_components, scaled.shape[0] - 1, scaled.shape[1] - 1))
        pca = PCA(n_components=n, random_state=self.seed).fit(scaled)
        self.pca_mean, self.components = pca.mean_, pca.components_
        return self.transform(counts)

    def transform(self, counts: Any) -> np.ndarray:
        return ((self._scaled(counts) - self.pca_mean) @ self.components.T).astype(np.float32)


class PeakLSI(Representation):
    """``scglue.data.lsi`` (``n_iter=15``): TF-IDF with the training cells' inverse document
    frequencies, rows L1-normalised, ``log1p(x * 1e4)``, projected on the training cells' right
    singular vectors and divided by the singular values (the left singular vectors on the
    training cells), then each cell's vector standardised."""

    kind = "lsi"
    fields = ("idf", "singular_values", "right_vectors")

    def _tfidf(self, counts: Any) -> sp.csr_matrix:
        from sklearn.preprocessing import normalize

        tf = normalize(sp.csr_matrix(counts, dtype=np.float64), norm="l1", axis=1)
        tfidf = normalize(tf @ sp.diags(self.idf), norm="l1", axis=1).tocsr()
        tfidf.data = np.log1p(tfidf.data * 1e4)
        return tfidf

    def fit_transform(self, counts: Any) -> np.ndarray:
        from sklearn.utils.extmath import randomized_svd

        x = sp.csr_matrix(counts, dtype=np.float64)
        self.idf = x.shape[0] / np.clip(np.asarray(x.sum(axis=0)).ravel(), 1e-12, None)
        _, self.singular_values, self.right_vectors = randomized_svd(self._tfidf(x), self.n_components, n_iter=15, random_state=self.seed)
        return self.transform(x)

    def transform(self, counts: Any) -> np.ndarray:
        u = np.asarray(self._tfidf(counts) @ self.right_vectors.T) / np.clip(self.singular_values, 1e-12, None)
        u = u - u.mean(axis=1, keepdims=True)
        return (u / np.clip(u.std(axis=1, ddof=1, keepdims=True), 1e-12, None)).astype(np.float32)


def representation_for(kind: str, n_components: int, seed: int) -> Representation:
    """An unfitted representation by kind (``pca`` or ``lsi``)."""
    kinds = {cls.kind: cls for cls in (ExpressionPCA, PeakLSI)}
    return kinds[kind](n_components, seed)
