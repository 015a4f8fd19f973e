"""Representations of cells that scoring and figures need: the embedding an input declares, the
PCA of corrected expression, and the unintegrated embedding (PCA of log-normalised, scaled
highly variable genes) that scIB's PCR comparison and the "before" panel of a figure start from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dance.core.errors import DanceInputError

if TYPE_CHECKING:
    from anndata import AnnData

    from dance.core.keys import DataKeys

__all__ = ["EMBEDDING_UNS_KEY", "corrected_embedding", "declared_embedding", "unintegrated_embedding"]

#: ``uns`` key under which an input names the ``obsm`` key of the embedding it holds instead of expression
EMBEDDING_UNS_KEY = "dance_embedding"


def corrected_embedding(corrected: Any, n_comps: int = 50) -> Any:
    """PCA of corrected expression (scaled per gene), the embedding scIB scores for such methods."""
    import numpy as np
    import scipy.sparse as sp
    from sklearn.decomposition import PCA

    x = corrected.toarray() if sp.issparse(corrected) else np.asarray(corrected, dtype=np.float64)
    x = x - x.mean(axis=0)
    sd = x.std(axis=0)
    x = x / np.where(sd > 0, sd, 1.0)
    n = int(min(n_comps, x.shape[0] - 1, x.shape[1]))
    return (
        PCA(n_components=n, random_state=0, svd_solver="randomized" if min(x.shape) > 500 else "full").fit_transform(x).astype(np.float32)
    )


def declared_embedding(data: Any) -> str | None:
    """The ``obsm`` key an input declares as its embedding (``uns['dance_embedding']``), or None."""
    uns = getattr(data, "uns", None)
    rep = uns.get(EMBEDDING_UNS_KEY) if uns is not None else None
    if isinstance(rep, str) and rep in data.obsm:
        return rep
    return None


def unintegrated_embedding(data: AnnData, keys: DataKeys, *, n_top_genes: int = 2000, n_comps: int = 50, seed: int = 0) -> Any:
    """The pre-integration embedding scIB's PCR comparison starts from.

    The declared embedding (:func:`declared_embedding`) when there is one; otherwise the PCA
    (``n_comps``) of log-normalised expression of the ``n_top_genes`` most variable genes, scaled
    to unit variance (clipped at 10), computed on a copy -- the same recipe as the ``pca``
    control model. ``X`` that cannot be log-normalised (negative values) is centred and used as is.
    """
    import numpy as np

    from dance.core.transforms import preprocessing as pp

    rep = declared_embedding(data)
    if rep is not None:
        value = data.obsm[rep]
        return np.asarray(value.toarray() if hasattr(value, "toarray") else value, dtype=np.float32)
    adata = data.copy()
    try:
        pp.log_normalize(adata, keys=keys)
        pp.highly_variable_genes(adata, n_top_genes=n_top_genes)
    except DanceInputError:  # not expression: centre and scale X as it is
        pass
    pp.scale(adata, max_value=10.0)
    pp.pca(adata, n_comps=n_comps, seed=seed)
    return np.asarray(adata.obsm["X_pca"], dtype=np.float32)
