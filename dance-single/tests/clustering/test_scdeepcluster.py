from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from dance.core import run
from dance.single.clustering.scdeepcluster import ScDeepCluster

FAST = {"pretrain_epochs": 80, "max_epochs": 20, "encoder_dims": (32,), "latent_dim": 4, "batch_size": 32, "kmeans_n_init": 5}


def test_recovers_the_synthetic_groups(labelled_counts, unlabelled_counts):
    model = ScDeepCluster(n_clusters=3, seed=0, device="cpu", **FAST).fit(unlabelled_counts)
    labels = model.predict(unlabelled_counts)
    assert adjusted_rand_score(labelled_counts.obs["cell_type"], labels) > 0.9
    assert model.embedding_.shape == (unlabelled_counts.n_obs, 4)
    notes = model.notes_
    assert notes["n_clusters"] == 3 and notes["n_clusters_estimated"] is False
    assert 1 <= notes["clustering_epochs"] <= 20 and np.isfinite(notes["pretrain_zinb_loss"])
    # the trainer's history: the mean of every term per epoch, the last ones in the notes
    history = model.training_history_
    assert set(history) == {"pretrain", "cluster"} and set(history["cluster"]) == {"loss", "kl", "zinb"}
    assert len(history["pretrain"]["zinb"]) == 80 and len(history["cluster"]["loss"]) == notes["clustering_epochs"]
    assert notes["pretrain_zinb_loss"] == round(history["pretrain"]["zinb"][-1], 4)
    assert notes["final_loss"] == round(history["cluster"]["loss"][-1], 4)


def test_estimates_the_number_of_clusters_without_labels(unlabelled_counts):
    model = ScDeepCluster(seed=0, device="cpu", **FAST).fit(unlabelled_counts)
    assert model.notes_["n_clusters_estimated"] is True
    assert model.notes_["n_clusters"] >= 2
    assert len(np.unique(model.predict(unlabelled_counts))) <= model.notes_["n_clusters"]


def test_stops_when_assignments_settle(unlabelled_counts):
    # a huge tolerance stops at the first check after one epoch
    model = ScDeepCluster(n_clusters=3, tol=1.0, seed=0, device="cpu", **FAST).fit(unlabelled_counts)
    assert model.notes_["converged"] is True and model.notes_["clustering_epochs"] == 1


def test_needs_counts(unlabelled_counts):
    from dance.core.errors import DanceInputError

    data = unlabelled_counts.copy()
    data.X = np.log1p(np.asarray(data.X)) + 0.5
    with pytest.raises(DanceInputError):
        ScDeepCluster(n_clusters=3, device="cpu", **FAST).fit(data)


@pytest.mark.slow
def test_scdeepcluster_on_mouse_bladder(shared_data_env, tmp_path):
    """DANCE's mouse bladder set (2,746 cells, 16 types) at the default training length (about 100 s
    on 2 cores). Measured ARI 0.606 / 0.544 on seeds 0 / 1 (2026-12-05; benchmark, three seeds in
    an earlier environment: 0.560 ± 0.009; DANCE reports 0.56). Shortened training (20 + 30 epochs)
    was too seed- and version-sensitive for a floor: 0.500 / 0.486 / 0.660 on seeds 0-2 today, 0.63
    on seed 0 before. All three sets: benchmarks/clustering.py."""
    result = run("clustering", "scdeepcluster", "mouse_bladder", seed=0, out=tmp_path, device="cpu", n_clusters="labels")
    assert result.metrics["ari"] > 0.50
    assert result.notes["n_clusters_source"] == "labels" and result.notes["n_clusters_found"] == 16


def test_a_saved_model_labels_new_cells_like_the_fitted_one(unlabelled_counts, tmp_path):
    from dance.core.models.base import DanceModel

    model = ScDeepCluster(n_clusters=3, seed=0, device="cpu", **FAST).fit(unlabelled_counts)
    fitted = model.predict(unlabelled_counts)
    # inductive: the fitted cells keep the assignment training ended with, and a subset of them
    # (new cells) is labelled by encoding it, not refused
    np.testing.assert_array_equal(fitted, model.labels_)
    assert ScDeepCluster.saving_refusal() is None
    loaded = DanceModel.load(model.save(tmp_path / "model"), device="cpu")
    assert isinstance(loaded, ScDeepCluster) and loaded.genes_ == model.genes_
    np.testing.assert_array_equal(loaded.predict(unlabelled_counts), fitted)
    subset = unlabelled_counts[::3].copy()
    assert len(loaded.predict(subset)) == subset.n_obs
