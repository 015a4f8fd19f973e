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


def test_top1_accuracy_counts_rows_whose_best_score_is_the_partner():
    import scipy.sparse as sp

    from dance.core.metrics.matching import top1_accuracy

    scores = np.array([[0.1, 0.9, 0.0], [0.8, 0.2, 0.0], [0.0, 0.0, 0.0]])
    assert top1_accuracy([1, 1, 2], scores) == pytest.approx(1 / 3)  # an all-zero row matches nothing
    assert top1_accuracy([1, 0, 2], sp.csr_matrix(scores)) == pytest.approx(2 / 3)


def test_pearson_per_feature_averages_columns_and_refuses_a_constant_prediction():
    from dance.core.errors import MetricNotComputableError
    from dance.core.metrics.regression import pearson_per_feature

    rng = np.random.default_rng(0)
    truth = rng.normal(size=(50, 3))
    prediction = truth.copy()
    prediction[:, 1] = -truth[:, 1]
    assert pearson_per_feature(truth, prediction) == pytest.approx(1 / 3)
    with pytest.raises(MetricNotComputableError, match="constant prediction"):
        pearson_per_feature(truth, np.ones_like(truth))


def test_matching_scores_keep_at_most_1000_candidates_per_row():
    from dance.core.tasks.modality_matching import keep_top_per_row

    rng = np.random.default_rng(0)
    scores = rng.random((3, 1500))
    kept = keep_top_per_row(scores, 1000)
    assert (np.diff(kept.indptr) == 1000).all()
    assert np.allclose(kept.toarray()[0][kept.toarray()[0] > 0].min(), np.sort(scores[0])[-1000])


def test_continuous_pc_regression_matches_least_squares_on_principal_components():
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LinearRegression

    from dance.core.metrics.conservation import continuous_pc_regression

    rng = np.random.default_rng(1)
    covariates = rng.normal(size=(200, 2))
    x = np.hstack([covariates @ rng.normal(size=(2, 5)), rng.normal(size=(200, 25))])
    pca = PCA(n_components=10).fit(x)
    components = pca.transform(x)
    r2 = np.array([LinearRegression().fit(covariates, components[:, i]).score(covariates, components[:, i]) for i in range(10)])
    expected = (r2 * pca.explained_variance_).sum() / pca.explained_variance_.sum()
    assert continuous_pc_regression(x, covariates, n_comps=10) == pytest.approx(expected, rel=1e-6)


def test_cell_cycle_conservation_says_why_it_cannot_be_scored():
    from dance.core.errors import MetricNotComputableError
    from dance.core.metrics.conservation import cell_cycle_conservation

    rng = np.random.default_rng(0)
    with pytest.raises(MetricNotComputableError, match="only 0 S-phase and 0 G2/M-phase genes"):
        cell_cycle_conservation(rng.normal(size=(20, 2)), rng.random((20, 5)), [f"g{i}" for i in range(5)])


def test_cell_cycle_conservation_rewards_an_embedding_that_keeps_the_cycle():
    from dance.core.metrics.conservation import G2M_GENES, S_GENES, cell_cycle_conservation

    rng = np.random.default_rng(0)
    n = 300
    phase = rng.integers(0, 3, n)  # G1, S, G2/M
    genes = S_GENES[:12] + G2M_GENES[:12] + [f"gene{i}" for i in range(40)]
    expression = rng.gamma(1.0, 0.3, size=(n, len(genes)))
    expression[phase == 1, :12] += 2.0
    expression[phase == 2, 12:24] += 2.0
    keeps = expression @ rng.normal(size=(len(genes), 10))
    loses = rng.normal(size=(n, 10))
    kept = cell_cycle_conservation(keeps, expression, genes)
    lost = cell_cycle_conservation(loses, expression, genes)
    assert kept > 0.8 and lost < 0.3
