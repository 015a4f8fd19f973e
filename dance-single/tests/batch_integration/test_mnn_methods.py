"""fastMNN, Scanorama and Seurat v3 anchors: their building blocks against references, behaviour
on synthetic batches, and floors on real data."""

from __future__ import annotations

import numpy as np
import pytest

from dance.core import run
from dance.core.metrics.scib_metrics import EmbeddingEvaluation, cluster_ari, ilisi
from dance.single.batch_integration._mnn import mutual_pairs
from dance.single.batch_integration.fastmnn import _center_along, fast_mnn, multi_batch_pca
from dance.single.batch_integration.scanorama import _matches, assemble, scanorama_integrate
from dance.single.batch_integration.seuratv3 import (
    _anchor_weights,
    _cca,
    _guide_tree,
    _standardize_cells,
    _top_features,
    find_anchors,
    seurat_integrate,
)


def _three_batches(seed: int = 0, dims: int = 20) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Four cell types, three shifted batches of different sizes."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1.5, size=(4, dims))
    x, batch, types = [], [], []
    for b, n in enumerate((300, 350, 400)):
        t = rng.integers(0, 4, n)
        x.append(centres[t] + 0.3 * rng.normal(size=(n, dims)) + rng.normal(0, 1.0, dims))
        batch += [f"b{b}"] * n
        types.append(t)
    return np.vstack(x), np.array(batch), np.concatenate(types)


def _scores(x: np.ndarray, batch: np.ndarray, types: np.ndarray) -> tuple[float, float]:
    evaluation = EmbeddingEvaluation(x, labels=types.astype(str), batch=batch)
    return ilisi(None, evaluation), cluster_ari(None, evaluation)


# ---------------------------------------------------------------------- shared MNN search
def test_mutual_pairs_equal_a_brute_force_search():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(60, 5)), rng.normal(size=(80, 5))
    i, j = mutual_pairs(a, b, 4, 6)
    d = ((a[:, None] - b[None]) ** 2).sum(-1)
    nn_ab = np.argsort(d, axis=1)[:, :4]
    nn_ba = np.argsort(d.T, axis=1)[:, :6]
    expected = {(p, q) for p in range(60) for q in nn_ab[p] if p in nn_ba[q]}
    assert set(zip(i.tolist(), j.tolist(), strict=True)) == expected


# ---------------------------------------------------------------------- fastMNN
def test_multi_batch_pca_weights_batches_equally():
    rng = np.random.default_rng(0)
    small = rng.normal(size=(50, 30)) + 5 * np.eye(30)[0]
    large = rng.normal(size=(500, 30)) + 5 * np.eye(30)[1]
    codes = np.repeat([0, 1], [50, 500])
    pcs = multi_batch_pca(np.vstack([small, large]), codes, 5)
    # centred on the mean of the two batch means, not on the cell-weighted mean
    assert abs(pcs[:50].mean(axis=0)[0] + pcs[50:].mean(axis=0)[0]) < 0.5


def test_center_along_removes_the_variation_along_the_vector():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(100, 4))
    vector = np.array([1.0, 1.0, 0.0, 0.0])
    out = _center_along(data, vector)
    along = out @ (vector / np.linalg.norm(vector))
    assert np.allclose(along, along.mean())
    assert np.allclose(out[:, 2:], data[:, 2:])


@pytest.mark.parametrize("smoothing", ["tricube", "gaussian"])
def test_fast_mnn_mixes_shifted_batches(smoothing):
    x, batch, types = _three_batches()
    result = fast_mnn(x, batch, smoothing=smoothing, sigma=1.0)
    assert result.merge_order == ["b0", "b1", "b2"] and all(n > 0 for n in result.n_pairs)
    mixed, ari = _scores(result.corrected, batch, types)
    assert mixed > _scores(x, batch, types)[0] + 0.3  # measured 0.01 -> 0.6-0.8
    assert ari > 0.9


def test_fast_mnn_merge_order_must_name_every_batch():
    x, batch, _ = _three_batches()
    with pytest.raises(ValueError, match="merge_order"):
        fast_mnn(x, batch, merge_order=["b0", "b1"])


# ---------------------------------------------------------------------- Scanorama
def test_scanorama_assembly_equals_the_package():
    """With exact matching (``approx=False``) scanorama's own ``assemble`` gives the same result."""
    scanorama = pytest.importorskip("scanorama")
    x, batch, _ = _three_batches(dims=15)
    datasets = [x[batch == b] for b in ("b0", "b1", "b2")]
    table, _, matches = scanorama.find_alignments_table([d.copy() for d in datasets], knn=20, approx=False, verbose=0)
    scores, ours = _matches([d.copy() for d in datasets], 20, "manhattan", 0)
    assert scores == pytest.approx(table)
    for key, pairs in matches.items():
        assert set(map(tuple, ours[key].tolist())) == {(int(a), int(b)) for a, b in pairs}
    reference = scanorama.assemble([d.copy() for d in datasets], knn=20, sigma=15, approx=False, alpha=0.1, batch_size=5000, verbose=0)
    corrected, _ = assemble([d.copy() for d in datasets], knn=20, sigma=15, alpha=0.1)
    for ref, mine in zip(reference, corrected, strict=True):
        np.testing.assert_allclose(mine, ref, atol=1e-10)


def test_scanorama_mixes_shifted_batches():
    x, batch, types = _three_batches()
    result = scanorama_integrate(x, batch, dimred=10)
    assert result.embedding.shape == (len(batch), 10) and result.alignments
    mixed, ari = _scores(result.embedding, batch, types)
    assert mixed > _scores(x, batch, types)[0] + 0.3 and ari > 0.9


# ---------------------------------------------------------------------- Seurat v3
def test_cca_vectors_are_the_singular_vectors_of_the_cell_cross_product():
    rng = np.random.default_rng(0)
    x1 = rng.normal(size=(120, 40))
    x2 = rng.normal(size=(90, 40)) + 0.8 * x1[:90]
    u, v = _cca(x1, x2, 3, seed=0)
    s1, s2 = _standardize_cells(x1), _standardize_cells(x2)
    left, _, right = np.linalg.svd(s1 @ s2.T)
    for k in range(3):
        assert abs(np.corrcoef(u[:, k], left[:, k])[0, 1]) > 0.999
        assert abs(np.corrcoef(v[:, k], right[k])[0, 1]) > 0.999


def test_anchor_weights_follow_seurats_rule():
    """Each query cell: its k + 1 nearest anchor cells' anchors (nearest first, at most k + 1),
    ``1 - exp(-(1 - d / d_last) * score / 4)``, normalised (FindWeightsC)."""
    rng = np.random.default_rng(0)
    space = rng.normal(size=(40, 4))
    anchor_cells = rng.integers(0, 40, 60)
    scores = rng.uniform(size=60)
    weights = _anchor_weights(space, anchor_cells, scores, 8, 1.0, 0).toarray()
    unique = np.unique(anchor_cells)
    expected = np.zeros_like(weights)
    for i in range(40):
        d = np.sqrt(((space[unique] - space[i]) ** 2).sum(1))
        order = np.argsort(d, kind="stable")[:9]
        relative = 1 - d[order] / d[order][-1]
        used = 0
        for position, cell in enumerate(order):
            for anchor in np.flatnonzero(anchor_cells == unique[cell]):
                if used < 9:
                    expected[i, anchor] = 1 - np.exp(-relative[position] * scores[anchor] / 4)
                    used += 1
        expected[i] /= expected[i].sum()
    np.testing.assert_allclose(weights, expected, atol=1e-6)


def test_top_features_stay_below_the_cap():
    loadings = np.random.default_rng(0).normal(size=(500, 30))
    features = _top_features(loadings, max_features=200)
    assert 60 <= len(features) < 200 and len(np.unique(features)) == len(features)


def test_guide_tree_merges_the_most_similar_datasets_first():
    similarity = np.array([[0, 0.9, 0.1], [0.9, 0, 0.2], [0.1, 0.2, 0]])
    assert _guide_tree(similarity)[0] == (0, 1)


def test_anchors_connect_the_same_cell_types():
    x, batch, types = _three_batches(dims=30)
    a, b = x[batch == "b0"], x[batch == "b1"]
    scale = lambda m: (m - m.mean(0)) / m.std(0, ddof=1)  # noqa: E731
    anchors = find_anchors(scale(a), scale(b), a, b, n_dims=10, k_filter=100)
    assert anchors.n_mutual >= anchors.n_filtered == len(anchors.cells1) > 50
    same = types[batch == "b0"][anchors.cells1] == types[batch == "b1"][anchors.cells2]
    assert same.mean() > 0.95
    assert (anchors.scores >= 0).all() and (anchors.scores <= 1).all()


def test_seurat_integration_mixes_shifted_batches():
    x, batch, types = _three_batches(dims=30)
    result = seurat_integrate(x, batch, n_dims=10, k_filter=100, n_pcs_weight=10)
    assert len(result.merges) == 2
    mixed, ari = _scores(result.corrected, batch, types)
    assert mixed > _scores(x, batch, types)[0] + 0.3 and ari > 0.9


# ---------------------------------------------------------------------- real data (slow)
@pytest.mark.slow
@pytest.mark.parametrize(
    ("model", "ilisi_floor", "overall_floor"), [("fastmnn", 0.6, 0.57), ("scanorama", 0.7, 0.58), ("seuratv3", 0.3, 0.55)]
)
def test_mnn_methods_on_bmmc(model, ilisi_floor, overall_floor, tmp_path):
    # measured (seed 0): fastmnn ilisi 0.75 overall 0.61; scanorama 0.88 / 0.62; seuratv3 0.40 / 0.58; pca 0.21 / 0.55
    result = run("batch_integration", model, "bmmc_cite_gex", out=tmp_path)
    assert result.metrics["ilisi"] > ilisi_floor
    assert result.metrics["overall"] > overall_floor


@pytest.mark.slow
def test_seurat_writes_corrected_expression_of_every_gene(shared_data_env, tmp_path):
    import anndata as ad

    result = run("batch_integration", "seuratv3", "kang_pbmc_stim", out=tmp_path)
    output = ad.read_h5ad(tmp_path / "output.h5ad")
    assert output.layers["seuratv3_corrected"].shape == (2000, 9015)
    assert result.metrics["ilisi"] > 0.3  # measured 0.44 (pca 0.05)
