"""Imputation metrics on hand-made held-out entries, and the downstream clustering check."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from dance.core import registry
from dance.core.errors import MetricNotComputableError
from dance.core.keys import DataKeys
from dance.core.metrics import imputation as m
from dance.core.tasks.imputation import HeldOutEntries
from dance.core.testing import synthetic_data

# three cells x four genes; cell 0 has 2 held-out entries, cell 1 has 2, cell 2 has 1
ROWS = np.array([0, 0, 1, 1, 2])
COLS = np.array([0, 2, 1, 3, 0])
TRUE = np.array([1.0, 3.0, 7.0, 1.0, 2.0])


def _evaluation(imputed_at_entries):
    imputed = np.zeros((3, 4))
    imputed[ROWS, COLS] = imputed_at_entries
    truth = HeldOutEntries(ROWS, COLS, TRUE)
    return truth, m.ImputationEvaluation(truth, imputed)


def test_entry_metrics_compare_log1p_values_of_the_held_out_entries():
    predicted = np.array([1.0, 1.0, 3.0, 0.0, 2.0])
    truth, evaluation = _evaluation(predicted)
    errors = np.log1p(predicted) - np.log1p(TRUE)  # [0, -0.693, -0.693, -0.693, 0]
    assert m.mean_squared_error(truth, evaluation) == pytest.approx(np.mean(errors**2)) == pytest.approx(3 * np.log(2) ** 2 / 5)
    assert m.root_mean_squared_error(truth, evaluation) == pytest.approx(np.sqrt(3 / 5) * np.log(2))
    assert m.median_l1(truth, evaluation) == pytest.approx(np.log(2))
    assert m.pearson(truth, evaluation) == pytest.approx(np.corrcoef(np.log1p(TRUE), np.log1p(predicted))[0, 1])


def test_cosine_is_per_cell_over_cells_with_two_or_more_held_out_entries():
    # cell 0 imputed proportionally to the truth (cosine 1); cell 1 all zero (0); cell 2 has one entry (not counted)
    true_log = np.log1p(TRUE)
    predicted = np.expm1(np.array([2 * true_log[0], 2 * true_log[1], 0.0, 0.0, 0.0]))
    truth, evaluation = _evaluation(predicted)
    assert m.cosine(truth, evaluation) == pytest.approx(0.5)
    one_each = HeldOutEntries(np.array([0, 1]), np.array([0, 0]), np.array([1.0, 2.0]))
    with pytest.raises(MetricNotComputableError, match="2 or more held-out entries"):
        m.cosine(one_each, m.ImputationEvaluation(one_each, np.ones((2, 4))))


def test_negative_and_sparse_predictions():
    predicted = np.array([-5.0, 3.0, 7.0, 1.0, 2.0])
    truth, evaluation = _evaluation(predicted)
    assert evaluation.predicted[0] == 0  # negative values count as 0
    sparse_truth, sparse_evaluation = truth, m.ImputationEvaluation(truth, sp.csr_matrix(evaluation.imputed))
    assert m.mean_squared_error(sparse_truth, sparse_evaluation) == pytest.approx(np.log(2) ** 2 / 5)


def test_constant_prediction_has_pearson_zero():
    truth, evaluation = _evaluation(np.zeros(5))
    assert m.pearson(truth, evaluation) == 0.0
    assert m.cosine(truth, evaluation) == 0.0


def test_downstream_ari_of_imputed_and_masked_matrices():
    data = synthetic_data("imputation", n_cells=300, n_genes=120)
    contract = registry.contract("imputation")
    view, truth = contract.holdout(data, DataKeys(), seed=0)
    perfect = contract.evaluate(data.X, truth, DataKeys())
    again = contract.evaluate(data.X, truth, DataKeys())
    assert perfect == again  # deterministic
    noise = np.random.default_rng(0).poisson(3.0, size=view.shape).astype(np.float32)
    noisy = contract.evaluate(noise, truth, DataKeys())
    # measured: true matrix 1.0, masked 1.0, Poisson noise 0.009 (three well separated synthetic groups)
    assert perfect["ari_imputed"] > 0.9 and perfect["ari_masked"] > 0.9
    assert noisy["ari_imputed"] < 0.1 and noisy["ari_masked"] == perfect["ari_masked"]
    assert noisy["ari_gain"] == pytest.approx(noisy["ari_imputed"] - noisy["ari_masked"])


def test_ari_is_over_labelled_cells_and_needs_two_types():
    data = synthetic_data("imputation")
    data.obs["cell_type"] = data.obs["cell_type"].astype(object)
    data.obs.iloc[:10, data.obs.columns.get_loc("cell_type")] = None
    _, truth = registry.contract("imputation").holdout(data, DataKeys(), seed=0)
    assert sum(label is None for label in truth.labels) == 10
    evaluation = m.ImputationEvaluation(truth, data.X)
    assert 0 <= m.ari_imputed(truth, evaluation) <= 1
    truth.labels = np.array(["a"] * data.n_obs, dtype=object)
    truth.cache.clear()
    with pytest.raises(MetricNotComputableError, match="fewer than 2"):
        m.ari_masked(truth, evaluation)


def test_variable_genes_are_those_of_highest_log_normalised_variance():
    rng = np.random.default_rng(0)
    counts = rng.poisson(5.0, size=(200, 30)).astype(np.float32)
    counts[:100, 7] = 0  # gene 7 on in half the cells: by far the most variable
    chosen = m.variable_genes(sp.csr_matrix(counts), n_top_genes=1)
    assert chosen.tolist() == [7]
    assert m.variable_genes(sp.csr_matrix(counts), n_top_genes=50).tolist() == list(range(30))


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_an_all_zero_imputation_is_one_cluster():
    data = synthetic_data("imputation")
    view, truth = registry.contract("imputation").holdout(data, DataKeys(), seed=0)
    evaluation = m.ImputationEvaluation(truth, np.zeros(view.shape))
    assert m.ari_imputed(truth, evaluation) == 0.0
    assert m.ari_gain(truth, evaluation) == pytest.approx(-m.ari_masked(truth, evaluation))
