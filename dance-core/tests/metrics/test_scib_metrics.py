"""The scIB metric suite (dance.core.metrics.scib_kernels kernels and the embedding metrics): against
scikit-learn / explicit references, on embeddings with known structure, and against the
scib-metrics package when it is installed."""

from __future__ import annotations

import numpy as np
import pytest

from dance.core.metrics import scib_kernels as scib
from dance.core.metrics import scib_metrics as E
from dance.core.metrics.scib_metrics import EmbeddingEvaluation


def _blobs(n_per: int = 60, n_types: int = 3, n_batches: int = 2, mixed: bool = True, seed: int = 0, dims: int = 8):
    """Cell types as separated blobs; batches either mixed within every blob or shifted apart."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 6, size=(n_types, dims))
    shifts = np.zeros((n_batches, dims)) if mixed else rng.normal(0, 4, size=(n_batches, dims))
    x, labels, batch = [], [], []
    for t in range(n_types):
        for b in range(n_batches):
            x.append(centres[t] + shifts[b] + rng.normal(size=(n_per, dims)))
            labels += [f"type{t}"] * n_per
            batch += [f"batch{b}"] * n_per
    return np.vstack(x).astype(np.float32), np.array(labels), np.array(batch)


# ---------------------------------------------------------------------- kernels
def test_silhouettes_equal_scikit_learn():
    from sklearn.metrics import silhouette_samples

    x, labels, _ = _blobs(n_per=20)
    labels = labels.copy()
    labels[0] = "singleton"
    np.testing.assert_allclose(scib.silhouette_samples(x, labels, chunk_size=17), silhouette_samples(x, labels), atol=1e-6)


def _lisi_reference(distances: np.ndarray, neighbours: np.ndarray, labels: np.ndarray, perplexity: float) -> float:
    """One cell's LISI by the straightforward loop (scib-metrics' Hbeta bisection)."""
    beta, low, high = 1.0, -np.inf, np.inf

    def entropy(b: float) -> tuple[float, np.ndarray]:
        p = np.exp(-distances * b)
        total = p.sum()
        return np.log(total) + b * (distances * p).sum() / total, p / total

    h, p = entropy(beta)
    for _ in range(50):
        diff = h - np.log(perplexity)
        if abs(diff) < 1e-5:
            break
        if diff > 0:
            low = beta
            beta = beta * 2 if np.isinf(high) else (beta + high) / 2
        else:
            high = beta
            beta = beta / 2 if np.isinf(low) else (beta + low) / 2
        h, p = entropy(beta)
    mass = np.array([p[labels[neighbours] == lab].sum() for lab in np.unique(labels)])
    return 1.0 / (mass**2).sum()


def test_lisi_equals_a_per_cell_loop():
    from dance.core.neighbors import knn

    x, _, batch = _blobs(n_per=40)
    indices, distances = knn(x, 30)
    values = scib.lisi(indices, distances, batch, chunk_size=50)
    for cell in (0, 7, 100, 239):
        expected = _lisi_reference(distances[cell, 1:].astype(np.float64), indices[cell, 1:], batch, perplexity=10.0)
        assert values[cell] == pytest.approx(expected, rel=1e-6)


def test_kbet_accepts_mixed_and_rejects_separated_neighbourhoods():
    rng = np.random.default_rng(0)
    batch = np.repeat(["a", "b"], 500)
    mixed = np.column_stack([np.arange(1000), rng.integers(0, 1000, size=(1000, 20))])
    separated = np.column_stack(
        [np.arange(1000), np.where(np.arange(1000)[:, None] < 500, rng.integers(0, 500, (1000, 20)), rng.integers(500, 1000, (1000, 20)))]
    )
    assert scib.kbet_acceptance(mixed, batch) > 0.85
    assert scib.kbet_acceptance(separated, batch) == 0.0


def _pcr_reference(x: np.ndarray, covariate: np.ndarray, n_comps: int) -> float:
    """scIB's pc_regression: PCA, R^2 of each PC on the one-hot covariate, variance-weighted."""
    import pandas as pd
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LinearRegression

    pca = PCA(n_components=n_comps, svd_solver="full").fit(x)
    scores = pca.transform(x)
    dummies = pd.get_dummies(covariate).to_numpy(dtype=float)
    r2 = np.array([LinearRegression().fit(dummies, scores[:, i]).score(dummies, scores[:, i]) for i in range(n_comps)])
    return float((r2 * pca.explained_variance_).sum() / pca.explained_variance_.sum())


@pytest.mark.parametrize("n_comps", [None, 3])
def test_principal_component_regression_equals_scibs_definition(n_comps):
    x, _, batch = _blobs(mixed=False)
    expected = _pcr_reference(x, batch, x.shape[1] if n_comps is None else n_comps)
    assert scib.principal_component_regression(x, batch, n_comps=n_comps) == pytest.approx(expected, rel=1e-6)


def test_isolated_labels_are_those_in_the_fewest_batches():
    labels = np.array(["a", "a", "b", "b", "c", "c", "c"])
    batch = np.array(["1", "2", "1", "2", "1", "1", "1"])
    assert scib.isolated_labels(labels, batch) == ["c"]
    assert scib.isolated_labels(labels, batch, iso_threshold=2) == ["a", "b", "c"]


def test_stratified_subsample_keeps_every_label():
    labels = np.array(["big"] * 9000 + ["small"] * 30)
    cells = scib.stratified_subsample(labels, 1000, seed=0)
    assert 900 <= len(cells) <= 1100 and (labels[cells] == "small").sum() == 30
    np.testing.assert_array_equal(scib.stratified_subsample(labels, 10_000), np.arange(9030))


# ---------------------------------------------------------------------- the embedding metrics
BIO = ["cluster_nmi", "cluster_ari", "asw_label", "isolated_label_f1", "isolated_label_asw", "clisi"]
BATCH = ["asw_batch", "graph_connectivity", "ilisi", "kbet", "pcr_comparison"]


def _evaluate(mixed: bool) -> dict[str, float]:
    x, labels, batch = _blobs(mixed=mixed)
    unintegrated, _, _ = _blobs(mixed=False)
    evaluation = EmbeddingEvaluation(x, labels, batch, unintegrated=unintegrated)
    return {name: getattr(E, name)(None, evaluation) for name in BIO + BATCH}


def test_every_metric_is_in_the_unit_interval_and_batch_metrics_reward_mixing():
    good, bad = _evaluate(True), _evaluate(False)
    for scores in (good, bad):
        for name, value in scores.items():
            assert value is not None and 0.0 <= value <= 1.0 + 1e-9, name
    for name in ("ilisi", "kbet", "pcr_comparison", "asw_batch"):
        assert good[name] > bad[name] + 0.3, name  # mixed ~0.9-1.0, shifted ~0.0-0.5
    for name in ("cluster_nmi", "isolated_label_f1", "clisi"):
        assert good[name] > 0.95, name  # measured 1.0
    assert bad["clisi"] > 0.95  # types stay apart even when batches are (clusters then split by batch)


def test_pcr_comparison_is_zero_without_change_and_none_without_the_unintegrated_embedding():
    x, labels, batch = _blobs(mixed=False)
    assert E.pcr_comparison(None, EmbeddingEvaluation(x, labels, batch, unintegrated=x)) == pytest.approx(0.0, abs=1e-9)
    assert E.pcr_comparison(None, EmbeddingEvaluation(x, labels, batch)) is None


def test_label_metrics_are_absent_without_labels():
    x, _, batch = _blobs()
    evaluation = EmbeddingEvaluation(x, batch=batch, unintegrated=x)
    for name in ("cluster_nmi", "asw_label", "isolated_label_f1", "isolated_label_asw", "clisi", "graph_connectivity"):
        assert getattr(E, name)(None, evaluation) is None, name
    for name in ("asw_batch", "ilisi", "kbet"):  # all cells form one group
        assert getattr(E, name)(None, evaluation) is not None, name


def test_subsampled_silhouettes_and_kbet_stay_close_to_the_exact_values():
    x, labels, batch = _blobs(n_per=150, mixed=False)
    exact = EmbeddingEvaluation(x, labels, batch)
    sampled = EmbeddingEvaluation(x, labels, batch, max_silhouette_cells=300, max_kbet_cells=400)
    assert len(sampled.silhouette_cells) < 400
    assert E.asw_label(None, sampled) == pytest.approx(E.asw_label(None, exact), abs=0.03)
    assert E.asw_batch(None, sampled) == pytest.approx(E.asw_batch(None, exact), abs=0.05)
    assert E.kbet(None, sampled) == pytest.approx(E.kbet(None, exact), abs=0.1)


def test_the_contract_registers_and_aggregates_every_scib_metric():
    from dance.core import registry
    from dance.core.tasks.batch_integration import BATCH_METRICS, BIO_METRICS

    names = {spec.name for spec in registry.metrics("batch_integration")}
    assert set(BIO_METRICS) | set(BATCH_METRICS) <= names
    metrics = dict.fromkeys(BIO_METRICS, 0.5) | dict.fromkeys(BATCH_METRICS, 1.0)
    aggregated = registry.contract("batch_integration").aggregate(metrics)
    assert aggregated["overall"] == pytest.approx(0.6 * 0.5 + 0.4 * 1.0)


def test_the_holdout_keeps_an_unintegrated_pca_of_expression():
    from dance.core import registry
    from dance.core.keys import DataKeys
    from dance.core.testing.synthetic import synthetic_data

    data = synthetic_data("batch_integration")
    _, truth = registry.contract("batch_integration").holdout(data, DataKeys(), seed=0)
    assert truth.unintegrated.shape == (data.n_obs, 50)
    assert np.isfinite(truth.unintegrated).all()


# ---------------------------------------------------------------------- scib-metrics (optional)
@pytest.mark.slow  # JAX compiles scib-metrics' kernels: about two minutes on two cores
def test_agreement_with_scib_metrics_on_the_same_neighbours():
    """Same embedding, same neighbours: dance and scib-metrics agree to float precision
    (kBET to its diffusion-map and neighbour-search noise)."""
    sm = pytest.importorskip("scib_metrics")
    from scib_metrics.nearest_neighbors import NeighborsResults

    x, labels, batch = _blobs(mixed=True, n_per=50)
    labels = labels.copy()
    labels[batch == "batch1"] = np.where(labels[batch == "batch1"] == "type2", "type3", labels[batch == "batch1"])  # an isolated type
    unintegrated, _, _ = _blobs(mixed=False, n_per=50)
    evaluation = EmbeddingEvaluation(x, labels, batch, unintegrated=unintegrated)
    indices, distances = evaluation.neighbors
    neighbours = NeighborsResults(indices=indices, distances=distances)
    assert E.asw_label(None, evaluation) == pytest.approx(float(sm.silhouette_label(x, labels)), abs=1e-5)
    assert E.asw_batch(None, evaluation) == pytest.approx(float(sm.silhouette_batch(x, labels, batch)), abs=1e-5)
    assert E.isolated_label_asw(None, evaluation) == pytest.approx(float(sm.isolated_labels(x, labels, batch)), abs=1e-5)
    assert E.clisi(None, evaluation) == pytest.approx(float(sm.clisi_knn(neighbours, labels)), abs=1e-5)
    assert E.ilisi(None, evaluation) == pytest.approx(float(sm.ilisi_knn(neighbours, batch)), abs=1e-5)
    assert E.pcr_comparison(None, evaluation) == pytest.approx(float(sm.pcr_comparison(unintegrated, x, batch, categorical=True)), abs=1e-5)
    assert E.kbet(None, evaluation) == pytest.approx(float(sm.kbet_per_label(neighbours.subset_neighbors(50), batch, labels)), abs=0.05)
