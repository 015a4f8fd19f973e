from __future__ import annotations

import anndata as ad
import numpy as np
import scipy.sparse as sp

from dance.multi.scales import apply_challenge_scale, binarise, clr_seurat, log_normalise


def test_log_normalise_divides_by_size_factors_centred_at_one():
    counts = sp.csr_matrix(np.array([[1, 0, 3], [2, 2, 0], [0, 0, 0]], dtype=np.float32))
    scaled, factors = log_normalise(counts)
    totals = np.array([4.0, 4.0])
    assert np.allclose(factors, [1.0, 1.0, 1.0])  # both non-empty cells have the mean library size
    assert np.allclose(scaled.toarray()[:2], np.log1p(counts.toarray()[:2] / (totals / totals.mean())[:, None]))


def test_clr_is_seurats_per_cell_formula():
    x = np.array([[10.0, 0.0, 5.0], [1.0, 1.0, 1.0]])
    geometric = np.exp(np.log1p(x).mean(axis=1, keepdims=True))
    assert np.allclose(clr_seurat(x), np.log1p(x / geometric), atol=1e-6)


def test_binarise_and_scaling_keep_the_counts():
    counts = sp.csr_matrix(np.array([[0, 3], [1, 0]], dtype=np.float32))
    assert (binarise(counts).toarray() == [[0, 1], [1, 0]]).all()
    adata = ad.AnnData(X=counts.copy())
    apply_challenge_scale(adata, "atac")
    assert (adata.layers["counts"].toarray() == counts.toarray()).all() and adata.uns["scale"] == "binarised"
