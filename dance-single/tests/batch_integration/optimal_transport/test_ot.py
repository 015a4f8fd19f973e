"""OT integration: the barycentric map, reference choice, label supervision, and the ``ot`` model."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pytest

from dance.core.errors import DanceInputError
from dance.single.batch_integration.optimal_transport.ot import OT, choose_reference, smooth_displacement
from dance.single.batch_integration.optimal_transport.transport_maps import barycentric_map, encode_labels
from dance.single.batch_integration.synthetic_scale import make_embedding


def _blob(rng, n, centre, sd=0.2):
    return rng.normal(0, sd, (n, 2)) + np.asarray(centre, dtype=float)


def test_a_translated_cloud_is_mapped_onto_its_translate():
    rng = np.random.default_rng(0)
    source = rng.normal(size=(400, 3))
    target = source + np.array([5.0, -2.0, 1.0])
    result = barycentric_map(source, target, reg=0.01, reg_m=np.inf)
    assert result.n_unmatched == 0
    assert np.abs(result.mapped - target).mean() < 0.1  # the OT map of a translation is the translation
    assert result.transported_mass == pytest.approx(1.0, abs=1e-3)


def test_unbalanced_transport_relaxes_mass_and_keeps_clusters_apart():
    """Source 90% A / 10% B, target 50/50: balanced OT must push A mass onto B; unbalanced OT much less."""
    rng = np.random.default_rng(1)
    source = np.vstack([_blob(rng, 180, (0, 0)), _blob(rng, 20, (5, 0))])
    target = np.vstack([_blob(rng, 100, (0.3, 0)), _blob(rng, 100, (5.3, 0))])
    balanced = barycentric_map(source, target, reg=0.05, reg_m=np.inf).mapped
    unbalanced = barycentric_map(source, target, reg=0.05, reg_m=0.1).mapped
    wrongly_moved = lambda mapped: float((mapped[:180, 0] > 2.5).mean())  # noqa: E731
    assert wrongly_moved(balanced) > 0.3 > 0.05 > wrongly_moved(unbalanced)


def test_label_penalty_forbids_transport_between_known_labels():
    rng = np.random.default_rng(2)
    source = np.vstack([_blob(rng, 50, (0, 0)), _blob(rng, 50, (-5, 0))])  # A at 0, B at -5
    target = np.vstack([_blob(rng, 50, (5, 0)), _blob(rng, 50, (0, 0))])  # B at 5, A at 0
    s_labels, t_labels = np.repeat([0, 1], 50), np.repeat([1, 0], 50)
    free = barycentric_map(source, target, reg=0.05).mapped
    supervised = barycentric_map(source, target, reg=0.05, source_labels=s_labels, target_labels=t_labels, label_penalty=5.0).mapped
    assert free[50:, 0].mean() < 2.5  # B goes to the nearer A
    assert supervised[50:, 0].mean() > 4.5 and abs(supervised[:50, 0].mean()) < 0.5


def test_unknown_labels_are_encoded_as_minus_one():
    codes, names = encode_labels(["T", None, "Unknown", "B", "nan", "T", "unlabelled"])
    assert names == ["B", "T"] and codes.tolist() == [1, -1, -1, 0, -1, 1, -1]


def test_reference_is_the_largest_batch_unless_given():
    batch = np.array(["a"] * 3 + ["b"] * 5 + ["c"] * 5)
    assert choose_reference(batch, None) == "b"  # tie b/c broken by name
    assert choose_reference(batch, "a") == "a"
    with pytest.raises(DanceInputError, match="reference"):
        choose_reference(batch, "z")


def test_smoothing_averages_displacements_over_neighbours():
    x = np.array([[0.0], [0.1], [10.0], [10.1]], dtype=np.float32)
    d = np.array([[1.0], [3.0], [-1.0], [-3.0]], dtype=np.float32)
    assert np.allclose(smooth_displacement(x, d, 2), [[2.0], [2.0], [-2.0], [-2.0]])
    assert smooth_displacement(x, d, 1) is d


@pytest.fixture(scope="module")
def synthetic():
    return make_embedding(2400, n_dims=10, n_batches=3, n_types=5, seed=7)


def _mixing(x, batch, k=10):
    from dance.core.neighbors import knn

    indices, _ = knn(x, k + 1)
    return float((batch[indices[:, 1:]] != batch[:, None]).mean())


def test_ot_model_mixes_batches_keeps_types_and_leaves_the_reference(synthetic):
    from dance.core.keys import DataKeys
    from dance.core.tasks.batch_integration import BatchIntegration

    params, _ = BatchIntegration().suggest_params(OT, synthetic, DataKeys(), {})
    assert params["use_rep"] == "X_pca"  # declared by the generator
    model = OT(params, device="cpu").fit(synthetic)
    out = model.predict(synthetic).embedding
    batch = synthetic.obs["batch"].astype(str).to_numpy()
    types = synthetic.obs["cell_type"].astype(str).to_numpy()
    reference = batch == model.notes_["reference"]
    assert np.array_equal(out[reference], synthetic.X[reference])
    assert _mixing(synthetic.X, batch) < 0.05 and _mixing(out, batch) > 0.4  # measured 0.01 -> 0.57
    from dance.core.neighbors import knn

    indices, _ = knn(out, 11)
    assert (types[indices[:, 1:]] == types[:, None]).mean() > 0.9


def test_supervised_ot_needs_labels(synthetic):
    data = synthetic.copy()
    del data.obs["cell_type"]
    with pytest.raises(DanceInputError, match="cell_type"):
        OT(use_rep="X_pca", supervised=True, device="cpu").fit(data)


def test_chunked_sources_and_subsampled_reference_still_integrate(synthetic):
    model = OT(use_rep="X_pca", max_reference_cells=300, max_source_cells=200, device="cpu").fit(synthetic)
    out = model.predict(synthetic).embedding
    assert model.notes_["n_reference_support"] == 300 and model.notes_["n_ot_problems"] > 2
    assert _mixing(out, synthetic.obs["batch"].astype(str).to_numpy()) > 0.3


def test_counts_input_goes_through_pca():
    from dance.core.testing import synthetic_data

    data = synthetic_data("batch_integration")
    model = OT(n_comps=10, device="cpu").fit(data)
    assert [s.transform for s in model.pipeline] == ["log_normalize", "highly_variable_genes", "scale", "pca"]
    assert model.predict(data).embedding.shape == (data.n_obs, 10)


@pytest.mark.slow
@pytest.mark.parametrize(
    "model, dataset, metric, floor",
    [
        ("ot", "bmmc_cite_gex", "overall", 0.55),  # measured 0.616
        ("ot_centroids", "bmmc_cite_gex", "overall", 0.55),  # measured 0.616 (every cell a centroid)
        ("ot", "harmony_cell_lines", "batch_correction", 0.6),  # measured 0.742
        ("ot_centroids", "harmony_cell_lines", "batch_correction", 0.6),  # measured 0.742
    ],
)
def test_ot_models_on_real_data(shared_data_env, tmp_path, model, dataset, metric, floor):
    from dance.core import run

    result = run("batch_integration", model, dataset, out=tmp_path)
    assert result.metrics[metric] > floor


@pytest.mark.slow
def test_ot_beats_uncorrected_pca_on_kang_batch_mixing(shared_data_env, tmp_path):
    from dance.core import run

    ot_result = run("batch_integration", "ot", "kang_pbmc_stim", out=tmp_path / "ot")
    pca_result = run("batch_integration", "pca", "kang_pbmc_stim", out=tmp_path / "pca")
    assert ot_result.metrics["batch_correction"] > pca_result.metrics["batch_correction"] + 0.05  # measured 0.xx vs 0.xx


def test_in_memory_pc_input_without_declaration_needs_use_rep():
    x = np.random.default_rng(0).normal(size=(60, 5)).astype(np.float32)
    adata = ad.AnnData(X=x, obs={"batch": ["a"] * 30 + ["b"] * 30})
    adata.obsm["X_pca"] = x
    out = OT(use_rep="X_pca", device="cpu").fit(adata).predict(adata).embedding
    assert out.shape == (60, 5)
