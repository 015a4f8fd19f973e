from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.metrics import adjusted_rand_score

from dance.core import run
from dance.nn.graphs import sparse_adjacency
from dance.single.clustering.scdsc import ScDSC
from dance.single.clustering.scdsc_module import ScDSCNetwork

FAST = {
    "pretrain_epochs": 20,
    "epochs": 60,
    "encoder_dims": (32, 16),
    "latent_dims": (16, 4),
    "n_neighbors": 10,
    "kmeans_n_init": 5,
    "lr": 1e-2,
}


def test_gcn_layers_mix_in_the_autoencoder():
    torch.manual_seed(0)
    network = ScDSCNetwork(6, 3, encoder_dims=(5, 4), latent_dims=(3, 2), sigma=0.5)
    assert [layer.in_channels for layer in network.gnn] == [6, 5, 4, 3, 2]
    assert [layer.out_channels for layer in network.gnn] == [5, 4, 3, 2, 3]
    x = torch.randn(8, 6)
    adjacency = sparse_adjacency(sp.eye(8))  # self loops only: the GCN is an MLP
    out = network(x, adjacency)
    assert out["predict"].shape == (8, 3) and torch.allclose(out["predict"].sum(1), torch.ones(8))
    assert out["q"].shape == (8, 3) and out["z"].shape == (8, 2) and out["x_bar"].shape == (8, 6)
    # with sigma = 1 the prediction depends on the input only through the autoencoder
    network.sigma = 1.0
    with torch.no_grad():
        network.gnn[0].lin.weight.mul_(0)
        again = network(x, adjacency)["predict"]
        network.gnn[0].lin.weight.normal_()
        changed = network(x, adjacency)["predict"]
    assert torch.allclose(again, changed)


def test_recovers_the_synthetic_groups(labelled_counts, unlabelled_counts):
    model = ScDSC(n_clusters=3, seed=0, device="cpu", **FAST).fit(unlabelled_counts)
    assert adjusted_rand_score(labelled_counts.obs["cell_type"], model.predict(unlabelled_counts)) > 0.9
    assert model.embedding_.shape == (unlabelled_counts.n_obs, 4)
    assert model.notes_["graph_edges"] >= unlabelled_counts.n_obs * 11
    history = model.training_history_
    assert len(history["pretrain"]["mse"]) == 20 and len(history["train"]["loss"]) == 60
    assert {f"final_{k}_loss": round(history["train"][k][-1], 4) for k in ("bce", "kl", "mse", "zinb")}.items() <= model.notes_.items()


def test_estimates_the_number_of_clusters(unlabelled_counts):
    model = ScDSC(seed=0, device="cpu", **FAST).fit(unlabelled_counts)
    assert model.notes_["n_clusters_estimated"] is True
    assert model.module_.centres.shape[0] == model.notes_["n_clusters"] >= 2
    assert np.max(model.predict(unlabelled_counts)) < model.notes_["n_clusters"]


@pytest.mark.slow
def test_scdsc_on_mouse_bladder(shared_data_env, tmp_path):
    """DANCE's mouse bladder set (16 types) with shortened training ({"pretrain_epochs": 30, "epochs": 30}); measured ARI
    0.49 on seed 0 in an earlier environment, 0.614 / 0.578 / 0.562 on seeds 0-2 on 2026-12-05 (DANCE reports 0.65 at
    full length). Full-length runs on all three sets:
    benchmarks/clustering.py."""
    result = run(
        "clustering",
        "scdsc",
        "mouse_bladder",
        seed=0,
        out=tmp_path,
        device="cpu",
        params={"pretrain_epochs": 30, "epochs": 30},
        n_clusters="labels",
    )
    assert result.metrics["ari"] > 0.42
    assert result.notes["n_clusters_found"] <= 16
