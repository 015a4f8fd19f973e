"""The imputation controls: no_imputation, gene_mean, knn_smoothing."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from dance.core import load_dataset, registry
from dance.core.keys import DataKeys
from dance.core.metrics import imputation as m
from dance.core.testing import synthetic_data
from dance.single.imputation.gene_mean import GeneMean
from dance.single.imputation.knn_smoothing import KNNSmoothing
from dance.single.imputation.no_imputation import NoImputation


def _held_out(data, seed=0):
    return registry.contract("imputation").holdout(data, DataKeys(), seed=seed)


def _entry_metrics(truth, imputed):
    evaluation = m.ImputationEvaluation(truth, imputed)
    return {"mse": m.mean_squared_error(truth, evaluation), "pearson": m.pearson(truth, evaluation)}


def test_no_imputation_returns_the_masked_counts():
    view, truth = _held_out(synthetic_data("imputation"))
    imputed = NoImputation().fit(view).predict(view)
    assert (abs(sp.csr_matrix(imputed) - view.layers["counts"]) > 0).nnz == 0
    assert (np.asarray(sp.csr_matrix(imputed)[truth.rows, truth.cols]) == 0).all()


def test_gene_mean_fills_zeros_with_the_mean_of_observed_counts_and_keeps_the_rest():
    counts = np.array([[1, 0, 0], [3, 0, 5], [0, 0, 7], [0, 0, 2]], dtype=np.float32)
    from anndata import AnnData

    data = AnnData(X=counts)
    log_model = GeneMean().fit(data)
    imputed = log_model.predict(data)
    assert imputed[0, 0] == 1 and imputed[1, 2] == 5  # observed entries kept
    assert imputed[2, 0] == pytest.approx(np.expm1(np.mean(np.log1p([1, 3]))))  # geometric-type mean on log1p
    assert (imputed[:, 1] == 0).all() and log_model.notes_["gene_mean_genes_without_counts"] == 1
    counts_model = GeneMean(scale="counts").fit(data)
    assert counts_model.predict(data)[0, 2] == pytest.approx(np.mean([5, 7, 2]))


def test_gene_mean_can_be_saved(tmp_path):
    view, _ = _held_out(synthetic_data("imputation"))
    model = GeneMean().fit(view)
    loaded = GeneMean.load(model.save(tmp_path / "gene_mean"))
    assert np.array_equal(loaded.predict(view), model.predict(view))


def test_knn_smoothing_returns_counts_on_each_cells_own_library_size():
    view, truth = _held_out(synthetic_data("imputation"))
    imputed = KNNSmoothing(k=5).fit(view).predict(view)
    assert sp.issparse(imputed) and imputed.shape == view.shape and imputed.min() >= 0
    library = np.asarray(view.X.sum(axis=1)).ravel()
    assert np.allclose(np.asarray(imputed.sum(axis=1)).ravel(), library, rtol=1e-4)  # count scale, not log or normalised
    assert (np.asarray(imputed[truth.rows, truth.cols]) > 0).mean() > 0.9  # held-out entries get values from neighbours
    one = KNNSmoothing(k=1).fit(view).predict(view)  # the cell alone: its own counts
    assert np.allclose(one.toarray(), view.X.toarray(), atol=1e-3)


def test_baselines_on_pbmc4k():
    """Embedded 10x PBMC 4K, DANCE's masking (seed 0): 85,061 held-out entries."""
    data = load_dataset("pbmc4k_10x", "imputation")
    view, truth = _held_out(data)
    none = _entry_metrics(truth, NoImputation().fit(view).predict(view))
    mean = _entry_metrics(truth, GeneMean().fit(view).predict(view))
    knn = _entry_metrics(truth, KNNSmoothing().fit(view).predict(view))
    # measured: no_imputation mse 1.813 (pearson 0); gene_mean mse 0.199, pearson 0.816;
    # knn_smoothing mse 0.326, pearson 0.904
    assert none["mse"] > 1.5 and none["pearson"] == 0
    assert mean["mse"] < 0.3 and mean["mse"] < 0.25 * none["mse"] and mean["pearson"] > 0.75
    assert knn["mse"] < 0.45 and knn["pearson"] > 0.85
