"""Preprocessing transforms, built on scanpy.

Each is ``fn(adata, **params) -> AnnData`` and works in place on the pipeline's private copy.
None of them drops cells: every model must predict for every input cell.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import scanpy as sc
import scipy.sparse as sp

from dance.core import validation as v
from dance.core.errors import DanceInputError

if TYPE_CHECKING:
    from anndata import AnnData

    from dance.core.keys import DataKeys

__all__ = [
    "filter_genes",
    "highly_variable_genes",
    "log1p",
    "log_normalize",
    "lsi",
    "normalize_total",
    "pca",
    "scale",
    "select_counts",
    "tfidf",
]


def select_counts(adata: AnnData, *, keys: DataKeys) -> AnnData:
    """Put raw counts (float32) in ``X`` and keep them in ``layers[keys.counts_layer]``.

    Raises a clear error when no raw counts are available.
    """
    counts = v.counts_matrix(adata, keys)
    counts = sp.csr_matrix(counts, dtype=np.float32) if sp.issparse(counts) else np.asarray(counts, dtype=np.float32)
    adata.X = counts.copy()
    adata.layers[keys.counts_layer] = counts
    return adata


def log_normalize(adata: AnnData, *, keys: DataKeys, target_sum: float | None = 1e4) -> AnnData:
    """Log-normalised expression in ``X`` from whatever the input holds.

    Raw counts (``layers['counts']`` or integer ``X``) are library-size normalised to
    ``target_sum`` and log1p-transformed; the counts stay in ``layers['counts']``. An ``X`` that
    is already non-negative and non-integer is taken as log-normalised and left as is (recorded
    in ``uns['dance_log_normalize']``). Negative values (scaled data) are refused.
    """
    try:
        select_counts(adata, keys=keys)
    except DanceInputError:
        values = adata.X.data if sp.issparse(adata.X) else np.asarray(adata.X)
        v.check_finite(adata.X, "X")
        if values.size and values.min() < 0:
            raise DanceInputError(
                f"X has negative values (min {values.min():.3g}): it looks scaled or centred; this model needs raw counts "
                f"(layers['{keys.counts_layer}'] or X) or log-normalised values",
                field="X",
            ) from None
        adata.uns["dance_log_normalize"] = "X taken as already log-normalised"
        return adata
    normalize_total(adata, target_sum=target_sum)
    log1p(adata)
    adata.uns["dance_log_normalize"] = f"counts normalised to {target_sum} and log1p-transformed"
    return adata


def filter_genes(adata: AnnData, *, min_cells: int = 1, min_counts: int | None = None) -> AnnData:
    """Drop genes detected in fewer than ``min_cells`` cells (or with fewer total counts)."""
    keep, _ = (
        sc.pp.filter_genes(adata, min_cells=min_cells, inplace=False)
        if min_counts is None
        else sc.pp.filter_genes(adata, min_counts=min_counts, inplace=False)
    )
    if not keep.any():
        raise DanceInputError(f"filter_genes(min_cells={min_cells}) removed every gene", field="X")
    adata._inplace_subset_var(keep)
    return adata


def normalize_total(adata: AnnData, *, target_sum: float | None = 1e4) -> AnnData:
    """Scale each cell to ``target_sum`` total counts (the median total when None).

    Library sizes are kept in ``obs['size_factor']`` (total / median total) for models that
    need them (e.g. ZINB decoders).
    """
    totals = np.asarray(adata.X.sum(axis=1)).ravel()
    median = np.median(totals[totals > 0]) if (totals > 0).any() else 1.0
    adata.obs["size_factor"] = np.where(totals > 0, totals / median, 1.0).astype(np.float32)
    sc.pp.normalize_total(adata, target_sum=target_sum)
    return adata


def log1p(adata: AnnData) -> AnnData:
    """Natural log(1 + x) of ``X``."""
    sc.pp.log1p(adata)
    return adata


def highly_variable_genes(
    adata: AnnData,
    *,
    n_top_genes: int = 2000,
    flavor: Literal["seurat", "cell_ranger"] = "seurat",
    batch_key: str | None = None,
    subset: bool = True,
) -> AnnData:
    """Keep (or flag) the ``n_top_genes`` most variable genes of log-normalised ``X``.

    Does nothing when the data has no more genes than requested.
    """
    if adata.n_vars <= n_top_genes:
        adata.var["highly_variable"] = True
        return adata
    if batch_key is not None:
        v.require_obs(adata, batch_key, what="batches for per-batch HVG selection", option="batch_key")
    sc.pp.highly_variable_genes(adata, n_top_genes=n_top_genes, flavor=flavor, batch_key=batch_key, subset=subset)
    return adata


def scale(adata: AnnData, *, max_value: float | None = 10.0, zero_center: bool = True) -> AnnData:
    """Scale each gene to unit variance (and zero mean), clipping at ``max_value``."""
    if zero_center and sp.issparse(adata.X):
        # centring makes the matrix dense anyway; doing it here says so, instead of scanpy's
        # "zero-centering a sparse array/matrix densifies it" warning on every such run
        adata.X = adata.X.toarray()
    sc.pp.scale(adata, max_value=max_value, zero_center=zero_center)
    return adata


def pca(adata: AnnData, *, n_comps: int = 50, seed: int = 0, key_added: str = "X_pca") -> AnnData:
    """Principal components of ``X`` into ``obsm[key_added]`` (capped by the data's size)."""
    n = int(min(n_comps, adata.n_obs - 1, adata.n_vars - 1))
    if n < 1:
        raise DanceInputError(
            f"the pca step got {adata.n_obs} cell(s) x {adata.n_vars} gene(s) from the steps before it; PCA needs at least 2 of each",
            field="X",
        )
    embedding = sc.pp.pca(adata.X, n_comps=n, random_state=seed, return_info=False)
    adata.obsm[key_added] = np.asarray(embedding, dtype=np.float32)
    return adata


def tfidf(adata: AnnData, *, scale_factor: float = 1e4, log_tf: bool = True) -> AnnData:
    """TF-IDF of (binary-ish) peak counts, as in Signac / ArchR LSI."""
    x = sp.csr_matrix(adata.X, dtype=np.float64)
    cell_totals = np.asarray(x.sum(axis=1)).ravel()
    tf = sp.diags(1.0 / np.clip(cell_totals, 1e-12, None)) @ x
    idf = adata.n_obs / np.clip(np.asarray(x.sum(axis=0)).ravel(), 1e-12, None)
    out = tf @ sp.diags(idf)
    if log_tf:
        out.data = np.log1p(out.data * scale_factor)
    adata.X = sp.csr_matrix(out, dtype=np.float32)
    return adata


def lsi(adata: AnnData, *, n_comps: int = 50, drop_first: bool = True, seed: int = 0, key_added: str = "X_lsi") -> AnnData:
    """Latent semantic indexing: TF-IDF then truncated SVD into ``obsm[key_added]``.

    The first component mostly tracks sequencing depth and is dropped by default (Signac).
    """
    from sklearn.decomposition import TruncatedSVD

    tfidf(adata)
    n = int(min(n_comps + int(drop_first), adata.n_obs - 1, adata.n_vars - 1))
    svd = TruncatedSVD(n_components=n, random_state=seed)
    embedding = svd.fit_transform(adata.X)
    embedding = embedding / np.clip(svd.singular_values_, 1e-12, None)
    if drop_first:
        embedding = embedding[:, 1:]
    adata.obsm[key_added] = embedding.astype(np.float32)
    return adata
