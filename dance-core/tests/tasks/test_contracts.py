from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dance.core.containers import Modalities, SpotsAndReference
from dance.core.errors import DanceInputError
from dance.core.keys import DataKeys
from dance.core.registry import registry
from dance.core.testing import synthetic_data

KEYS = DataKeys()


def contract(task: str):
    return registry.contract(task)


def test_annotation_holdout_hides_test_labels_and_keeps_the_input():
    data = synthetic_data("cell_type_annotation")
    before = data.obs["cell_type"].copy()
    view, truth = contract("cell_type_annotation").holdout(data, KEYS, seed=1)
    test = (view.obs["split"] == "test").to_numpy()
    assert 0.1 < test.mean() < 0.3
    assert view.obs["cell_type"][test].isna().all()
    assert view.obs["cell_type"][~test].notna().all()
    assert list(truth.labels) == list(before.astype(str)[test])
    assert data.obs["cell_type"].equals(before) and "split" not in data.obs


def test_annotation_split_is_stratified_and_seeded():
    data = synthetic_data("cell_type_annotation")
    first, _ = contract("cell_type_annotation").holdout(data, KEYS, seed=3)
    second, _ = contract("cell_type_annotation").holdout(data, KEYS, seed=3)
    assert first.obs["split"].equals(second.obs["split"])
    per_type = pd.crosstab(data.obs["cell_type"], first.obs["split"])
    assert (per_type["test"] > 0).all()


def test_annotation_perfect_prediction_scores_one():
    data = synthetic_data("cell_type_annotation")
    _view, truth = contract("cell_type_annotation").holdout(data, KEYS, seed=0)
    metrics = contract("cell_type_annotation").evaluate(data.obs["cell_type"].astype(str).to_numpy(), truth, KEYS)
    assert metrics == {"accuracy": 1.0, "macro_f1": 1.0}


def test_missing_label_column_names_the_column_and_the_flag():
    data = synthetic_data("cell_type_annotation")
    del data.obs["cell_type"]
    with pytest.raises(DanceInputError, match=r"obs\['cell_type'\] is missing.*--label-key"):
        contract("cell_type_annotation").validate(data, KEYS)


def test_split_with_unexpected_values_is_refused():
    data = synthetic_data("cell_type_annotation")
    data.obs["split"] = "validation"
    with pytest.raises(DanceInputError, match=r"obs\['split'\].*'train' and 'test'"):
        contract("cell_type_annotation").validate(data, KEYS)


def test_negative_values_where_counts_are_required():
    data = synthetic_data("imputation")
    data.X[0, 0] = -3
    with pytest.raises(DanceInputError, match=r"X has negative values.*raw counts are required"):
        contract("imputation").validate(data, KEYS)


def test_non_integer_values_where_counts_are_required():
    data = synthetic_data("imputation")
    data.X = data.X / 3.0
    with pytest.raises(DanceInputError, match=r"X holds non-integer values.*--counts-layer"):
        contract("imputation").validate(data, KEYS)


def test_nan_is_refused_with_the_field():
    data = synthetic_data("clustering")
    data.X[2, 3] = np.nan
    with pytest.raises(DanceInputError, match=r"X contains 1 NaN"):
        contract("clustering").validate(data, KEYS)


def test_empty_data_is_refused():
    data = synthetic_data("clustering")[:0]
    with pytest.raises(DanceInputError, match="no cells"):
        contract("clustering").validate(data, KEYS)


def test_clustering_holdout_removes_labels_and_reads_them_for_n_clusters_only_when_asked():
    from helpers import KMeansClustering

    data = synthetic_data("clustering")
    clustering = contract("clustering")
    view, truth = clustering.holdout(data, KEYS, seed=0)
    assert "cell_type" not in view.obs and len(truth) == data.n_obs
    # by default the model chooses: the labels are not read
    assert clustering.choose_n_clusters(KMeansClustering, data, KEYS, {}, None) == ({}, {"n_clusters_source": "model"})
    assert clustering.choose_n_clusters(KMeansClustering, data, KEYS, {}, "labels") == ({"n_clusters": 3}, {"n_clusters_source": "labels"})
    assert clustering.choose_n_clusters(KMeansClustering, data, KEYS, {}, 5) == ({"n_clusters": 5}, {"n_clusters_source": "user"})
    assert clustering.choose_n_clusters(KMeansClustering, data, KEYS, {"n_clusters": 4}, None)[1] == {"n_clusters_source": "user"}
    with pytest.raises(DanceInputError, match=r"--n-clusters-from-labels counts the labelled types, but obs\['cell_type'\] is missing"):
        clustering.choose_n_clusters(KMeansClustering, view, KEYS, {}, "labels")
    with pytest.raises(DanceInputError, match="given twice"):
        clustering.choose_n_clusters(KMeansClustering, data, KEYS, {"n_clusters": 4}, 5)
    with pytest.raises(DanceInputError, match="task 'imputation' has no number of clusters"):
        contract("imputation").choose_n_clusters(KMeansClustering, data, KEYS, {}, 5)


def test_imputation_holdout_masks_ten_percent_of_nonzero_entries():
    # per cell, rounded down (DANCE's cell-wise mask; dance-core/tests/tasks/test_imputation.py has the rest)
    data = synthetic_data("imputation")
    view, truth = contract("imputation").holdout(data, KEYS, seed=0)
    nonzero = (data.X > 0).sum(axis=1)
    assert len(truth.values) == int(np.floor(0.1 * nonzero).sum())
    assert (np.asarray(view.X[truth.rows, truth.cols]).ravel() == 0).all()
    assert (data.X[truth.rows, truth.cols] == truth.values).all()
    perfect = contract("imputation").evaluate(data.X, truth, KEYS)
    assert perfect["mse"] == 0 and perfect["pearson"] == pytest.approx(1.0)


def test_batch_integration_needs_two_batches_and_no_empty_one():
    data = synthetic_data("batch_integration")
    single = data.copy()
    single.obs["batch"] = "only"
    with pytest.raises(DanceInputError, match="at least 2 batches"):
        contract("batch_integration").validate(single, KEYS)
    empty = data.copy()
    empty.obs["batch"] = pd.Categorical(empty.obs["batch"].astype(str), categories=["batch_1", "batch_2", "batch_3"])
    with pytest.raises(DanceInputError, match="no cells: batch_3"):
        contract("batch_integration").validate(empty, KEYS)


def test_batch_integration_scores_a_mixed_embedding_above_a_separated_one():
    data = synthetic_data("batch_integration")
    _view, truth = contract("batch_integration").holdout(data, KEYS, seed=0)
    rng = np.random.default_rng(0)
    labels = pd.factorize(truth.labels)[0]
    batches = pd.factorize(truth.batch)[0]
    mixed = np.column_stack([labels * 5.0, rng.normal(size=len(labels)), rng.normal(size=len(labels))])
    separated = mixed + np.column_stack([np.zeros(len(labels)), batches * 10.0, np.zeros(len(labels))])
    good = contract("batch_integration").evaluate(mixed, truth, KEYS)
    bad = contract("batch_integration").evaluate(separated, truth, KEYS)
    assert good["asw_batch"] > bad["asw_batch"] + 0.2
    assert good["nmi"] == pytest.approx(1.0) and good["ari"] == pytest.approx(1.0)
    assert good["overall"] == pytest.approx(0.6 * good["bio_conservation"] + 0.4 * good["batch_correction"])


def test_modalities_with_different_cells_are_refused():
    data = synthetic_data("joint_embedding")
    mod2 = data.mod2.copy()
    mod2.obs_names = [f"other_{i}" for i in range(mod2.n_obs)]
    with pytest.raises(DanceInputError, match=r"mod2.obs_names do not match.*paired modalities"):
        contract("joint_embedding").validate(Modalities(data.mod1, mod2), KEYS)


def test_modalities_in_another_order_are_refused_with_the_fix():
    data = synthetic_data("joint_embedding")
    mod2 = data.mod2[::-1].copy()
    with pytest.raises(DanceInputError, match=r"different order.*mod2\[mod1.obs_names\]"):
        contract("joint_embedding").validate(Modalities(data.mod1, mod2), KEYS)


def test_prediction_holdout_hides_test_targets():
    data = synthetic_data("modality_prediction")
    view, truth = contract("modality_prediction").holdout(data, KEYS, seed=0)
    train = (view.mod1.obs["split"] == "train").to_numpy()
    assert view.mod2.n_obs == train.sum()
    assert list(view.mod2.obs_names) == list(view.mod1.obs_names[train])
    assert np.allclose(truth.values, data.mod2.X[~train])


def test_matching_holdout_shuffles_and_renames_test_cells_and_perfect_scores_one():
    import scipy.sparse as sp

    data = synthetic_data("modality_matching")
    view, partner = contract("modality_matching").holdout(data, KEYS, seed=0)
    test2 = view.mod2[view.mod2.obs["split"] == "test"]
    assert all(name.startswith("test_") for name in test2.obs_names)
    test1 = data.mod2[(view.mod1.obs["split"] == "test").to_numpy()]
    assert np.allclose(test2.X[partner], test1.X)  # the truth permutation really pairs them
    perfect = sp.csr_matrix((np.ones(len(partner)), (np.arange(len(partner)), partner)))
    assert contract("modality_matching").evaluate(perfect, partner, KEYS)["matching_score"] == 1.0


def test_multiomics_holdout_hides_the_pairing_and_mod2_labels():
    data = synthetic_data("multiomics_integration")
    view, truth = contract("multiomics_integration").holdout(data, KEYS, seed=0)
    assert "cell_type" not in view.mod2.obs and not set(view.mod2.obs_names) & set(data.mod1.obs_names)
    embedding = np.asarray(data.mod1.X)
    metrics = contract("multiomics_integration").evaluate((embedding, embedding[np.argsort(truth.partner)]), truth, KEYS)
    assert metrics["foscttm"] == 0.0


def test_paired_data_labelled_in_one_modality_score_label_transfer_through_the_pairing():
    data = synthetic_data("multiomics_integration")
    del data.mod2.obs["cell_type"]
    _view, truth = contract("multiomics_integration").holdout(data, KEYS, seed=0)
    expected = data.mod1.obs["cell_type"].astype(str).to_numpy()[np.argsort(truth.partner)]
    assert list(truth.labels2) == list(expected)


def test_the_unintegrated_representations_follow_the_views_rows_and_score_neighbour_conservation():
    import anndata as ad

    from dance.core.tasks.multiomics_integration import unintegrated_representation

    data = synthetic_data("multiomics_integration")
    view, truth = contract("multiomics_integration").holdout(data, KEYS, seed=0)
    rep1, rep2 = truth.representations
    assert rep1.shape[0] == view.mod1.n_obs and rep2.shape[0] == view.mod2.n_obs
    # the representations are the scoring's own: a model handing them back conserves every neighbourhood
    padded = np.zeros((rep2.shape[0], rep1.shape[1]), dtype=np.float32)
    padded[:, : min(rep1.shape[1], rep2.shape[1])] = rep2[:, : rep1.shape[1]]
    metrics = contract("multiomics_integration").evaluate((rep1, padded), truth, KEYS)
    assert metrics["neighbor_conservation"] > 0.9
    # peaks get an LSI (the GLUE paper's ATAC representation), other features a PCA
    rng = np.random.default_rng(0)
    peaks = ad.AnnData((rng.random((80, 200)) < 0.2).astype(np.float32))
    peaks.var_names = [f"chr1:{i * 1000}-{i * 1000 + 500}" for i in range(200)]
    lsi = unintegrated_representation(peaks, KEYS, n_comps=10)
    assert lsi.shape == (80, 10)


def test_spatial_domain_requires_coordinates():
    data = synthetic_data("spatial_domain")
    del data.obsm["spatial"]
    with pytest.raises(DanceInputError, match=r"obsm\['spatial'\] is missing.*--spatial-key"):
        contract("spatial_domain").validate(data, KEYS)


def test_deconvolution_requires_shared_genes_and_reference_labels():
    data = synthetic_data("cell_type_deconvolution")
    other = data.reference.copy()
    other.var_names = [f"x_{i}" for i in range(other.n_vars)]
    with pytest.raises(DanceInputError, match="share no gene"):
        contract("cell_type_deconvolution").validate(SpotsAndReference(data.spots, other), KEYS)
    unlabelled = data.reference.copy()
    del unlabelled.obs["cell_type"]
    with pytest.raises(DanceInputError, match=r"reference.obs\['cell_type'\] is missing"):
        contract("cell_type_deconvolution").validate(SpotsAndReference(data.spots, unlabelled), KEYS)


def test_deconvolution_normalises_and_scores_proportions():
    data = synthetic_data("cell_type_deconvolution")
    view, truth = contract("cell_type_deconvolution").holdout(data, KEYS, seed=0)
    assert "proportions" not in view.spots.obsm
    doubled = truth * 2  # unnormalised but proportional predictions are normalised by the contract
    checked = contract("cell_type_deconvolution").check_prediction(doubled, view, KEYS)
    assert np.allclose(checked.sum(axis=1), 1)
    metrics = contract("cell_type_deconvolution").evaluate(checked, truth, KEYS)
    assert metrics["mse"] == pytest.approx(0) and metrics["jsd"] == pytest.approx(0, abs=1e-12)


def test_prediction_of_the_wrong_shape_is_refused():
    data = synthetic_data("clustering")
    with pytest.raises(DanceInputError, match="one entry per cell"):
        contract("clustering").check_prediction(np.zeros(data.n_obs - 1), data, KEYS)


def test_partition_output_keeps_a_learned_embedding():
    from types import SimpleNamespace

    from dance.core.tasks.clustering import Clustering

    data = synthetic_data("clustering")
    labels = np.zeros(data.n_obs, dtype=int)
    with_embedding = SimpleNamespace(embedding_=np.ones((data.n_obs, 3)))
    out = Clustering().write_output(data, labels, DataKeys(), model_name="deep", model=with_embedding)["output"]
    assert out.obsm["X_deep"].shape == (data.n_obs, 3) and list(out.obs["deep_pred"].unique()) == ["0"]
    wrong_rows = SimpleNamespace(embedding_=np.ones((data.n_obs - 1, 3)))
    out = Clustering().write_output(data, labels, DataKeys(), model_name="deep", model=wrong_rows)["output"]
    assert "X_deep" not in out.obsm and "X_deep" not in data.obsm


def _valid_prediction(task, view):
    """A prediction of the right type and shape for ``task`` on ``view`` (content does not matter)."""
    import pandas as pd

    from dance.core.tasks.batch_integration import IntegrationOutput

    rng = np.random.default_rng(0)
    if task in ("clustering", "spatial_domain"):
        return np.arange(view.n_obs) % 3
    if task == "cell_type_annotation":
        return np.array(["a", "b"] * (view.n_obs // 2) + ["a"] * (view.n_obs % 2), dtype=object)
    if task == "imputation":
        return rng.random(view.shape)
    if task == "batch_integration":
        return IntegrationOutput(embedding=rng.random((view.n_obs, 4)))
    if task == "joint_embedding":
        return rng.random((view.mod1.n_obs, 4))
    if task == "multiomics_integration":
        return rng.random((view.mod1.n_obs, 4)), rng.random((view.mod2.n_obs, 4))
    if task == "modality_prediction":
        return rng.random((view.mod1.n_obs, view.mod2.n_vars))
    if task == "modality_matching":
        n_test = int((view.mod1.obs["split"] == "test").sum())
        return rng.random((n_test, n_test))
    if task == "cell_type_deconvolution":
        types = sorted(view.reference.obs["cell_type"].astype(str).unique())
        return pd.DataFrame(rng.dirichlet(np.ones(len(types)), size=view.spots.n_obs), index=view.spots.obs_names, columns=types)
    raise AssertionError(task)


STORED_AT = {
    "clustering": lambda d: d.obs["mine"],
    "spatial_domain": lambda d: d.obs["mine"],
    "cell_type_annotation": lambda d: d.obs["mine"],
    "imputation": lambda d: d.layers["mine"],
    "batch_integration": lambda d: d.obsm["mine"],
    "joint_embedding": lambda d: (d.mod1.obsm["mine"], d.mod2.obsm["mine"]),
    "multiomics_integration": lambda d: (d.mod1.obsm["mine"], d.mod2.obsm["mine"]),
    "modality_prediction": lambda d: d.mod1.obsm["mine"],
    "modality_matching": lambda d: (d.mod1.uns["mine"], d.mod1.obs["mine"]),
    "cell_type_deconvolution": lambda d: d.spots.obsm["mine"],
}


@pytest.mark.parametrize("task", sorted(STORED_AT))
def test_store_prediction_writes_where_scanpy_users_look(task):
    from dance.core.containers import roles_of

    view, _ = contract(task).holdout(synthetic_data(task), KEYS, seed=0)
    prediction = contract(task).check_prediction(_valid_prediction(task, view), view, KEYS)
    contract(task).store_prediction(view, prediction, KEYS, key="mine")
    stored = STORED_AT[task](view)
    assert stored is not None
    # nothing else is named after the key
    assert all("mine" not in k or k == "mine" for a in roles_of(view).values() for k in [*a.obs.columns, *a.obsm.keys(), *a.layers.keys()])
