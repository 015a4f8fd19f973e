"""DSTG (Song & Su 2021): ANOVA gene selection, the mutual-nearest-neighbour link graph of pseudo-spots
and real spots, the soft-label loss, the GCN, and DSTG on real pseudo-spots."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dance.core import run
from dance.spatial.deconvolution.dstg import DSTG, _log_normalize, _scale, anova_genes, mnn_edges
from dance.spatial.deconvolution.dstg_module import soft_cross_entropy


def test_anova_picks_the_genes_that_differ_between_types():
    rng = np.random.default_rng(0)
    labels = np.repeat(["a", "b", "c"], 30)
    counts = rng.poisson(5.0, size=(90, 20)).astype(float)
    counts[labels == "b", 7] += 30
    counts[labels == "c", 13] += 30
    assert anova_genes(counts, labels, 2).tolist() == [7, 13]


def _two_groups(n: int, shift: float, profiles: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    groups = np.repeat([0, 1], n // 2)
    counts = rng.poisson(profiles[groups] * shift).astype(float)
    return counts, groups


def test_mnn_links_join_spots_of_the_same_kind_across_datasets():
    rng = np.random.default_rng(0)
    profiles = rng.gamma(1.0, 5.0, size=(2, 60))
    profiles[1, :15] *= 8.0
    profiles[0, 15:30] *= 8.0
    pseudo, pseudo_groups = _two_groups(80, 1.0, profiles, rng)
    real, real_groups = _two_groups(60, 1.5, profiles, rng)  # another depth: the canonical space absorbs it
    norm_p, norm_r = _log_normalize(pseudo), _log_normalize(real)
    edges = mnn_edges(_scale(norm_p), _scale(norm_r), norm_p, norm_r, num_cc=10, k_filter=50)
    assert edges.shape[0] == 2 and edges.shape[1] > 20
    agree = (pseudo_groups[edges[0]] == real_groups[edges[1]]).mean()
    assert agree > 0.9
    # links are mutual: each one is a pair, not a one-sided nearest neighbour (no duplicated pairs either)
    assert len({tuple(e) for e in edges.T}) == edges.shape[1]


def test_soft_cross_entropy_is_minimised_at_the_target_proportions():
    target = torch.tensor([[0.2, 0.5, 0.3]])
    logits = torch.log(target).clone().requires_grad_(True)
    loss = soft_cross_entropy(logits, target)
    (gradient,) = torch.autograd.grad(loss, logits)
    assert torch.allclose(gradient, torch.zeros_like(gradient), atol=1e-6)
    assert soft_cross_entropy(torch.zeros(1, 3), target) > loss


def test_graph_is_symmetric_normalised_over_pseudo_and_real_spots(grid_data):
    model = DSTG(seed=0, device="cpu", n_pseudo=120, epochs=5).fit(grid_data)
    real = grid_data.spots[:, model.genes_].X
    real = real.toarray() if hasattr(real, "toarray") else np.asarray(real)
    adjacency, info = model._graph(model.pseudo_x_, real)
    n = len(model.pseudo_x_) + real.shape[0]
    assert adjacency.shape == (n, n) and abs(adjacency - adjacency.T).max() < 1e-12
    assert info["pseudo_real_links"] > 0 and info["real_real_links"] > 0
    # D^-1/2 (A + 2I) D^-1/2: an isolated node keeps weight 2 / 2 = 1 on itself
    degree = np.asarray((adjacency > 0).sum(axis=1)).ravel()
    isolated = np.flatnonzero(degree == 1)
    assert np.allclose(adjacency.diagonal()[isolated], 1.0)
    # no pseudo-pseudo links: DSTG links pseudo-spots only to real spots
    n_pseudo = len(model.pseudo_x_)
    block = adjacency[:n_pseudo, :n_pseudo].tocoo()
    assert (block.row == block.col).all()


def test_learns_proportions_from_pseudo_spots(grid_data, proportion_mse):
    model = DSTG(seed=0, device="cpu", n_pseudo=300, epochs=200).fit(grid_data)
    prediction = model.predict(grid_data)
    assert np.allclose(prediction.sum(axis=1), 1)
    assert model.pseudo_y_.shape == (300, 3) and np.allclose(model.pseudo_y_.sum(axis=1), 1)
    assert proportion_mse(prediction, grid_data) < 0.5 * proportion_mse(None, grid_data)
    # the trainer's history holds the training and validation losses of every epoch run
    history = model.training_history_["train"]
    assert len(history["cross_entropy"]) == len(history["val_cross_entropy"]) == model.notes_["epochs"]
    assert history["val_cross_entropy"][-1] == pytest.approx(model.notes_["final_val_loss"], abs=1e-5)
    assert history["cross_entropy"][-1] < history["cross_entropy"][0]


def test_stops_when_the_validation_loss_exceeds_its_recent_mean(grid_data):
    model = DSTG(seed=0, device="cpu", n_pseudo=60, epochs=300, lr=0.05)
    model.fit(grid_data).predict(grid_data)
    validation = model.training_history_["train"]["val_cross_entropy"]
    window = model.params.early_stopping
    assert model.notes_["epochs"] == len(validation) < 300
    assert validation[-1] > np.mean(validation[-(window + 1) : -1])
    # no earlier epoch met the rule (it is tested only after the first `window` epochs)
    for epoch in range(window + 1, len(validation) - 1):
        assert validation[epoch] <= np.mean(validation[epoch - window : epoch])


@pytest.mark.slow
def test_dstg_on_its_synthetic_spots(shared_data_env, tmp_path):
    result = run("cell_type_deconvolution", "dstg", "dstg_synthetic", seed=0, out=tmp_path, device="cpu")
    # measured 0.0081 (JSD 0.050) at seed 0, full default (200 epochs, ~2 s); NNLS reaches 0.0024 on this set
    assert result.metrics["mse"] < 0.01 and result.metrics["jsd"] < 0.06
