from __future__ import annotations

import numpy as np
import pytest

from dance.core.keys import DataKeys
from dance.core.tasks.cell_type_annotation import CellTypeAnnotation
from dance.core.testing import synthetic_data
from dance.single.annotation.singlecellnet import UNKNOWN, SingleCellNet, _correlations


@pytest.fixture(scope="module")
def view():
    data = synthetic_data("cell_type_annotation")
    return CellTypeAnnotation().holdout(data, DataKeys(), seed=0)[0]


def test_cval_is_the_regression_statistic_of_sc_testpattern():
    rng = np.random.default_rng(0)
    pattern = (rng.random(50) > 0.7).astype(float)
    x = rng.normal(size=(50, 4)) + pattern[:, None] * np.array([2.0, -2.0, 0.0, 0.5])
    x = np.hstack([x, np.ones((50, 1))])
    cval = _correlations(pattern, x)
    for j in range(4):  # sqrt(R^2) * sign(slope) of the simple regression of x on the pattern
        slope, intercept = np.polyfit(pattern, x[:, j], 1)
        residual = x[:, j] - (slope * pattern + intercept)
        r2 = 1 - (residual**2).sum() / ((x[:, j] - x[:, j].mean()) ** 2).sum()
        assert np.isclose(cval[j], np.sqrt(r2) * np.sign(slope))
    assert np.isnan(cval[4])  # constant gene: NA, dropped


def test_pairs_respect_the_per_type_and_per_gene_limits(view):
    model = SingleCellNet(n_trees=30, n_top_genes=5, n_top_gene_pairs=6).fit(view)
    pairs = model.pairs_
    assert pairs.shape[1] == 2 and (pairs[:, 0] != pairs[:, 1]).all()
    assert len(pairs) <= 6 * 3
    assert len({tuple(p) for p in pairs}) == len(pairs)
    _, uses = np.unique(pairs, return_counts=True)
    assert uses.max() <= 3 * 3  # at most 3 pairs per gene within each of the 3 types


def test_random_profiles_form_the_unknown_class(view):
    model = SingleCellNet(n_trees=50, n_rand=70).fit(view)
    labels = model.predict(view)
    proba = model.probabilities_
    assert UNKNOWN in proba.columns and np.allclose(proba.sum(axis=1), 1)
    assert set(labels) <= set(proba.columns)
    # profiles with the pair structure destroyed are mostly called unknown
    rng = np.random.default_rng(1)
    features = model._pair_features(np.asarray(view.X, dtype=float), model.pairs_)
    noise = model._randomize(features, 40, rng)
    calls = model.forest_.predict(noise)
    assert (calls == "rand").mean() > 0.5
    without = SingleCellNet(n_trees=30, n_rand=0).fit(view)
    assert UNKNOWN not in set(without.predict(view))


def test_randomize_permutes_within_columns_then_rows():
    rng = np.random.default_rng(0)
    features = (rng.random((30, 8)) > 0.5).astype(np.float32)
    out = SingleCellNet._randomize(features, 10, np.random.default_rng(3))
    assert out.shape == (10, 8)
    assert set(np.unique(out)) <= {0.0, 1.0}


def test_learns_the_synthetic_types(view):
    model = SingleCellNet(n_trees=100).fit(view)
    test = (view.obs["split"] == "test").to_numpy()
    truth = synthetic_data("cell_type_annotation").obs["cell_type"].astype(str).to_numpy()
    assert (model.predict(view)[test] == truth[test]).mean() > 0.8
