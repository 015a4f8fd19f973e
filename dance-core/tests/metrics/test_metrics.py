from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from dance.core.metrics import labels, matching, proportions, regression
from dance.core.metrics.scib_metrics import EmbeddingEvaluation, asw_batch, asw_label, graph_connectivity


def test_label_metrics_on_known_values():
    y = np.array(["a", "a", "b", "b"])
    assert labels.accuracy(y, ["a", "b", "b", "b"]) == 0.75
    assert labels.adjusted_rand_index(y, [1, 1, 0, 0]) == 1.0  # label names do not matter
    assert labels.normalized_mutual_information(y, [0, 1, 0, 1]) == pytest.approx(0.0)
    # an 'unknown' prediction counts as an error but adds no class to the macro average
    assert labels.macro_f1(y, ["a", "a", "b", "unknown"]) == pytest.approx((1.0 + 2 / 3) / 2)


def test_regression_metrics():
    assert regression.root_mean_squared_error([0, 0], [3, 4]) == pytest.approx(np.sqrt(12.5))
    assert regression.pearson_correlation([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert regression.pearson_correlation([1, 1, 1], [1, 2, 3]) == 0.0


def test_jensen_shannon_divergence_bounds():
    p = np.array([[1.0, 0.0], [0.5, 0.5]])
    assert proportions.jensen_shannon_divergence(p, p) == pytest.approx(0.0)
    assert proportions.jensen_shannon_divergence([[1.0, 0.0]], [[0.0, 1.0]]) == pytest.approx(1.0)


def test_matching_score_normalises_rows():
    scores = sp.csr_matrix(np.array([[2.0, 2.0], [0.0, 5.0]]))
    assert matching.matching_score(np.array([0, 1]), scores) == pytest.approx((0.5 + 1.0) / 2)


def test_foscttm_is_zero_when_aligned_and_near_half_when_random():
    class Truth:
        partner = np.arange(300)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5))
    assert matching.foscttm(Truth, (x, x)) == 0.0
    assert 0.4 < matching.foscttm(Truth, (x, rng.normal(size=(300, 5)))) < 0.6


def test_scib_metrics_separate_good_from_bad_embeddings():
    rng = np.random.default_rng(1)
    types = np.repeat(["t1", "t2", "t3"], 100)
    batch = np.tile(["b1", "b2"], 150)
    centers = {"t1": 0.0, "t2": 6.0, "t3": 12.0}
    good = np.column_stack([[centers[t] for t in types], rng.normal(size=300)]) + rng.normal(scale=0.5, size=(300, 2))
    split = good + np.column_stack([np.zeros(300), (batch == "b2") * 8.0])
    ev_good, ev_split = EmbeddingEvaluation(good, types, batch), EmbeddingEvaluation(split, types, batch)
    assert asw_batch(None, ev_good) > 0.9 > asw_batch(None, ev_split) + 0.3
    assert asw_label(None, ev_good) > 0.75
    assert graph_connectivity(None, ev_good) == 1.0
    assert graph_connectivity(None, ev_split) < 0.75
