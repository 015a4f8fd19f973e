from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from dance.multi.batch_features import batch_features


def test_batch_features_average_per_cell_statistics_over_each_batch():
    rng = np.random.default_rng(0)
    x = rng.poisson(0.7, size=(30, 12)).astype(float)
    x[0, 0] = 5  # no all-zero cell
    batch = np.array(["a"] * 10 + ["b"] * 20)
    features = batch_features(sp.csr_matrix(x), batch)
    expected = []
    for row in x:
        nz = row[row != 0]
        expected.append([row.mean(), row.std(), *np.percentile(nz, [25, 50, 75]), row.max(), len(nz) / 1000, nz.mean(), nz.std()])
    expected = np.array(expected)
    assert np.allclose(features[0], expected[:10].mean(axis=0), atol=1e-5)
    assert np.allclose(features[-1], expected[10:].mean(axis=0), atol=1e-5)
    assert features.shape == (30, 9)
