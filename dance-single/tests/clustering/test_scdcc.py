from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from sklearn.metrics import adjusted_rand_score

from dance.single.clustering.scdcc import ScDCC, draw_pairwise_constraints, pairwise_loss
from dance.single.clustering.scdeepcluster import ScDeepCluster

FAST = {"pretrain_epochs": 5, "max_epochs": 5, "encoder_dims": (16,), "latent_dim": 4, "batch_size": 32, "kmeans_n_init": 2, "tol": 0.0}


def test_without_constraints_scdcc_is_scdeepcluster(labelled_counts, unlabelled_counts):
    reference = ScDeepCluster(n_clusters=3, seed=3, device="cpu", **FAST).fit(unlabelled_counts)
    expected = reference.predict(unlabelled_counts)
    # no labels at fit time (what the evaluation gives), and labels present but n_pairwise = 0
    no_labels = ScDCC(n_clusters=3, seed=3, device="cpu", **FAST).fit(unlabelled_counts)
    no_pairs = ScDCC(n_clusters=3, n_pairwise=0, seed=3, device="cpu", **FAST).fit(labelled_counts)
    for model in (no_labels, no_pairs):
        assert np.array_equal(model.predict(unlabelled_counts), expected)
        assert np.allclose(model.embedding_, reference.embedding_)
        assert model.notes_["n_must_link"] == model.notes_["n_cannot_link"] == 0
    # the note says why and how to give it constraints, instead of running as scDeepCluster silently
    note = no_labels.notes_["constraints"]
    assert note.startswith("none: no known labels at fit time") and "ran as scDeepCluster" in note
    assert "--set constraint_key=" in note and "--reveal-labels" in note
    assert no_pairs.notes_["constraints"] == "none: n_pairwise=0"


def test_revealed_labels_are_the_default_source(labelled_counts, unlabelled_counts):
    """``dance run --reveal-labels 0.1`` shows the model a seeded fraction of the labels in
    ``obs['known_cell_type']`` (missing elsewhere); scDCC uses that column whole by default."""
    import pandas as pd

    known = labelled_counts.obs["cell_type"].astype(object).to_numpy().copy()
    known[15:] = None
    revealed = unlabelled_counts.copy()
    revealed.obs["known_cell_type"] = pd.Categorical(known)  # as the task writes it
    model = ScDCC(n_clusters=3, n_pairwise=1000, seed=0, device="cpu", **FAST).fit(revealed)
    assert model.notes_["constraints"] == "1 of the labelled cells of obs['known_cell_type']"
    assert model.notes_["n_must_link"] + model.notes_["n_cannot_link"] == 15 * 14 // 2  # every pair of the 15 known cells
    named = ScDCC(n_clusters=3, n_pairwise=1000, constraint_key="known_cell_type", seed=0, device="cpu", **FAST).fit(revealed)
    assert np.array_equal(model.labels_, named.labels_) and np.array_equal(model.embedding_, named.embedding_)
    # preferred to the full label column when both are there
    both = labelled_counts.copy()
    both.obs["known_cell_type"] = pd.Categorical(known)
    model = ScDCC(n_clusters=3, n_pairwise=1000, seed=0, device="cpu", **FAST).fit(both)
    assert model.notes_["constraints"] == "1 of the labelled cells of obs['known_cell_type']"
    # a revealed column without two known cells gives no constraints, and says so
    empty = unlabelled_counts.copy()
    empty.obs["known_cell_type"] = pd.Categorical([None] * empty.n_obs, categories=["a"])
    model = ScDCC(n_clusters=3, seed=0, device="cpu", **FAST).fit(empty)
    assert model.notes_["constraints"].startswith("none: obs['known_cell_type'] has fewer than two labelled cells")
    assert model.notes_["n_must_link"] == model.notes_["n_cannot_link"] == 0


def test_a_named_constraint_column_must_exist(unlabelled_counts):
    from dance.core.errors import DanceInputError

    with pytest.raises(DanceInputError, match=r"constraint_key names obs\['known_typo'\]"):
        ScDCC(n_clusters=3, constraint_key="known_typo", seed=0, device="cpu", **FAST).fit(unlabelled_counts)


def test_constraint_passes_are_recorded_per_clustering_epoch(labelled_counts):
    model = ScDCC(n_clusters=3, n_pairwise=40, seed=0, device="cpu", **FAST).fit(labelled_counts)
    assert model.notes_["n_must_link"] > 0 and model.notes_["n_cannot_link"] > 0
    history = model.training_history_
    assert set(history) == {"pretrain", "cluster"} and len(history["pretrain"]["zinb"]) == FAST["pretrain_epochs"]
    # each pass's mean terms next to the clustering epoch's, one value per epoch
    cluster = history["cluster"]
    assert set(cluster) == {"loss", "kl", "zinb", "must_link_loss", "must_link_pair", "must_link_zinb", "cannot_link_loss"}
    assert {len(values) for values in cluster.values()} == {model.notes_["clustering_epochs"]}
    assert all(np.isfinite(v) for values in cluster.values() for v in values)


def test_constraints_come_from_the_known_fraction_of_labels(labelled_counts):
    model = ScDCC(n_clusters=3, n_pairwise=40, labelled_fraction=0.2, seed=0, device="cpu", **FAST).fit(labelled_counts)
    assert model.notes_["n_must_link"] + model.notes_["n_cannot_link"] == 40
    without = ScDeepCluster(n_clusters=3, seed=0, device="cpu", **FAST).fit(labelled_counts)
    assert not np.allclose(model.embedding_, without.embedding_)  # the constraint updates changed the model


def test_partially_labelled_column(labelled_counts, unlabelled_counts):
    data = unlabelled_counts.copy()
    known = labelled_counts.obs["cell_type"].astype(object).to_numpy().copy()
    known[20:] = np.nan
    data.obs["known_type"] = known
    model = ScDCC(n_clusters=3, n_pairwise=30, labelled_fraction=1.0, constraint_key="known_type", seed=0, device="cpu", **FAST).fit(data)
    assert model.notes_["n_must_link"] + model.notes_["n_cannot_link"] == 30
    # a column of known labels is used whole by default: its 20 cells give 190 distinct pairs, all drawn
    default = ScDCC(n_clusters=3, n_pairwise=1000, constraint_key="known_type", seed=0, device="cpu", **FAST).fit(data)
    assert default.notes_["constraints"].startswith("1 of the labelled cells of obs['known_type']")
    assert default.notes_["n_must_link"] + default.notes_["n_cannot_link"] == 190
    # the task's full label column: 10 % of its cells are known (the paper's protocol)
    protocol = ScDCC(n_clusters=3, n_pairwise=1000, seed=0, device="cpu", **FAST).fit(labelled_counts)
    assert protocol.notes_["constraints"].startswith("0.1 of the labelled cells")


def test_draw_pairwise_constraints():
    labels = np.array(["a"] * 50 + ["b"] * 50 + [None] * 20 + [np.nan] * 20, dtype=object)
    constraints = draw_pairwise_constraints(labels, 100, labelled_fraction=0.3, seed=0)
    pairs = np.vstack([constraints.must_link, constraints.cannot_link])
    assert len(constraints) == 100 and len({tuple(sorted(p)) for p in pairs}) == 100
    assert (pairs[:, 0] != pairs[:, 1]).all()
    used = np.unique(pairs)
    assert used.max() < 100  # never an unlabelled cell
    assert len(used) <= 30  # only the known 30% of the 100 labelled cells
    assert all(labels[i] == labels[j] for i, j in constraints.must_link)
    assert all(labels[i] != labels[j] for i, j in constraints.cannot_link)
    again = draw_pairwise_constraints(labels, 100, labelled_fraction=0.3, seed=0)
    assert np.array_equal(again.must_link, constraints.must_link)
    # capped by the number of distinct pairs; nothing without labels
    assert len(draw_pairwise_constraints(labels, 10_000, labelled_fraction=0.05, seed=0)) == 10  # 5 known cells: 10 pairs
    assert len(draw_pairwise_constraints(np.array([None] * 5, dtype=object), 10, labelled_fraction=1.0, seed=0)) == 0


def test_pairwise_loss():
    same = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    other = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    assert torch.isclose(pairwise_loss(same, other, "must_link"), torch.tensor(-np.log(0.5) / 2, dtype=torch.float32), atol=1e-6)
    apart = torch.tensor([[0.0, 1.0], [0.5, 0.5]])
    assert torch.isclose(pairwise_loss(same, apart, "cannot_link"), torch.tensor(-np.log(0.5) / 2, dtype=torch.float32), atol=1e-6)
    with pytest.raises(ValueError):
        pairwise_loss(same, other, "maybe_link")


@pytest.mark.slow
def test_constraints_shape_the_clusters_on_mouse_bladder(shared_data_env):
    """scDCC's protocol on DANCE's mouse bladder set: 1,000 random pairs among a known 10 % of the
    cells. The must-linked pairs must end up together far more often than without the constraints
    (the same model and seed with no pairs, i.e. scDeepCluster), and the cannot-linked pairs apart
    (training shortened to 20 + 30 epochs; full-length runs: benchmarks/clustering.py)."""
    from dance.core import load_dataset

    data = load_dataset("mouse_bladder", "clustering")
    truth = data.obs["cell_type"].astype(object).to_numpy()
    pairs = draw_pairwise_constraints(truth, 1000, labelled_fraction=0.1, seed=0)  # the pairs the model draws

    def agreement(n_pairwise: int) -> tuple[float, float, Any]:
        model = ScDCC(n_clusters=16, pretrain_epochs=20, max_epochs=30, n_pairwise=n_pairwise, seed=0, device="cpu").fit(data)
        predicted = model.predict(data)
        together = np.mean(predicted[pairs.must_link[:, 0]] == predicted[pairs.must_link[:, 1]])
        apart = np.mean(predicted[pairs.cannot_link[:, 0]] != predicted[pairs.cannot_link[:, 1]])
        return together, apart, model

    together, apart, model = agreement(1000)
    free_together, _, _ = agreement(0)
    assert model.notes_["n_must_link"] == len(pairs.must_link) > 0
    # measured (2026-12-07, scikit-learn 1.9.1, torch 2.13.0): together 0.755 vs 0.568 unconstrained
    # on seed 0, 0.930 vs 0.526 on seed 1; apart 0.985 / 0.993. Absolute fractions of so short a run
    # move with the machine (0.755 here, > 0.85 in the environment of 2026-12-05), the gain does not
    assert together - free_together > 0.1 and apart > 0.95
    assert adjusted_rand_score(truth, model.predict(data)) > 0.45
