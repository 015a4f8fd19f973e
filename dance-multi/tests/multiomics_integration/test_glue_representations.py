"""GLUE's encoder inputs: fitted on the training cells, the same projection applies to new cells."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.utils.extmath import randomized_svd

from dance.multi.multiomics_integration.glue_representations import ExpressionPCA, PeakLSI, Representation


def counts(n_cells: int, n_features: int, seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    rates = rng.gamma(0.5, 2.0, size=(1, n_features)) * rng.gamma(2.0, 1.0, size=(n_cells, 1))
    return sp.csr_matrix(rng.poisson(rates).astype(np.float32))


def test_lsi_of_the_training_cells_is_scglues_standardised_left_singular_vectors():
    x = counts(200, 300)
    lsi = PeakLSI(10, seed=0)
    fitted = lsi.fit_transform(x)
    # scglue.data.lsi: the left singular vectors of the log TF-IDF, each cell standardised
    u = randomized_svd(lsi._tfidf(x), 10, n_iter=15, random_state=0)[0]
    u = (u - u.mean(axis=1, keepdims=True)) / u.std(axis=1, ddof=1, keepdims=True)
    assert np.allclose(fitted, u, atol=1e-4)


def test_new_cells_are_projected_with_the_training_cells_statistics():
    x = counts(300, 120)
    for representation in (ExpressionPCA(8, seed=0), PeakLSI(8, seed=0)):
        train = representation.fit_transform(x[:200])
        # a cell's projection does not depend on the other cells it comes with
        assert np.allclose(representation.transform(x[:200])[:50], representation.transform(x[:50]), atol=1e-5)
        assert np.allclose(representation.transform(x[:200]), train, atol=1e-5)
        assert representation.transform(x[200:]).shape == (100, 8)


def test_a_saved_representation_projects_as_the_fitted_one():
    x = counts(150, 90)
    for representation in (ExpressionPCA(6, seed=0), PeakLSI(6, seed=0)):
        representation.fit_transform(x)
        restored: Representation = type(representation).from_arrays(representation.arrays("r"), "r")
        assert np.array_equal(restored.transform(x), representation.transform(x))
