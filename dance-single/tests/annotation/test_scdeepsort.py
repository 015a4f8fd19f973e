from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from dance.core.keys import DataKeys
from dance.core.tasks.cell_type_annotation import CellTypeAnnotation
from dance.core.testing import synthetic_data
from dance.single.annotation.scdeepsort import ScDeepsort
from dance.single.annotation.scdeepsort_module import ScDeepsortNet, cell_gene_operators, sparse_rows


@pytest.fixture(scope="module")
def view():
    data = synthetic_data("cell_type_annotation")
    return CellTypeAnnotation().holdout(data, DataKeys(), seed=0)[0]


def test_operators_average_in_edge_weights_to_one_with_a_self_loop():
    x = sp.csr_matrix(np.array([[1.0, 3.0, 0.0], [0.0, 0.0, 0.0], [2.0, 2.0, 4.0]]))
    train = np.array([True, False, True])
    ops = cell_gene_operators(x, train)
    # cell 0 has 2 genes: weights 2 * (1, 3) / 4, averaged over 2 + 1 messages
    assert np.allclose(ops.to_cell.toarray()[0], [2 * 1 / 4 / 3, 2 * 3 / 4 / 3, 0])
    assert np.allclose(ops.cell_self, [1 / 3, 1.0, 1 / 4])
    assert np.allclose(ops.to_cell.toarray()[1], 0)  # no expressed gene: only the self loop
    # genes receive from training cells only (cell 1 is not a training cell anyway; cell 2 is)
    assert ops.to_gene.shape == (3, 2)
    assert np.allclose(ops.to_gene.toarray()[2], [0, 1 / 2])  # gene 2: one in-edge (cell 2), weight 1
    # the normalised in-edge weights of every node average 1: row sums * (deg + 1) == deg
    deg = np.diff(sp.csr_matrix(x).indptr)
    assert np.allclose(np.asarray(ops.to_cell.sum(axis=1)).ravel() / ops.cell_self, deg)


def test_layer_is_the_confidence_weighted_mean_of_messages():
    torch.manual_seed(0)
    net = ScDeepsortNet(n_genes=3, dim_in=2, dim_hidden=4, n_classes=2, dropout=0.0)
    with torch.no_grad():
        net.alpha[:] = torch.tensor([[0.5], [2.0], [1.0], [7.0], [3.0]])  # beta_0..2, gene self, cell self
    genes = torch.randn(3, 2)
    cell = torch.randn(1, 2)
    x = sp.csr_matrix(np.array([[1.0, 0.0, 3.0]]))
    ops = cell_gene_operators(x, np.array([True]))
    logits = net(genes, cell, sparse_rows(ops.to_cell, None, "cpu"), torch.as_tensor(ops.cell_self))
    w = np.array([2 * 1 / 4, 0, 2 * 3 / 4])  # deg * w / sum(w)
    h = (0.5 * w[0] * genes[0] + 1.0 * w[2] * genes[2] + 3.0 * cell[0]) / 3
    expected = net.head(torch.relu(net.layers[0](h[None, :])))
    assert torch.allclose(logits, expected, atol=1e-6)
    (alpha_grad,) = torch.autograd.grad(logits.sum(), net.alpha)
    assert float(alpha_grad[1].abs()) == 0 and float(alpha_grad[0].abs()) > 0  # gene 1 not expressed: no gradient


def test_query_cells_do_not_change_training_cell_predictions(view):
    model = ScDeepsort(epochs=5, dim_in=16, dim_hidden=16).fit(view)
    model.predict(view)
    full = model.probabilities_
    train = model.train_mask(view)
    model.predict(view[train].copy())
    alone = model.probabilities_
    assert np.allclose(full[train].to_numpy(), alone.to_numpy(), atol=1e-5)
    assert model.unsure_.shape == (int(train.sum()),)


def test_stops_once_the_training_cells_are_confidently_right(view):
    model = ScDeepsort(epochs=1000, min_steps=0, dim_in=16, dim_hidden=32).fit(view)
    assert model.notes_["scdeepsort_train_accuracy"] == 1.0
    assert model.notes_["scdeepsort_epochs"] < 1000
    assert len(model.training_history_["train"]["loss"]) == model.notes_["scdeepsort_epochs"]


def test_two_layers_run(view):
    model = ScDeepsort(epochs=3, dim_in=8, dim_hidden=8, n_layers=2).fit(view)
    labels = model.predict(view)
    assert len(labels) == view.n_obs and set(labels) <= set(model.classes_)


def test_learns_the_synthetic_types(view):
    model = ScDeepsort(epochs=100, dim_in=32, dim_hidden=32).fit(view)
    test = (view.obs["split"] == "test").to_numpy()
    truth = synthetic_data("cell_type_annotation").obs["cell_type"].astype(str).to_numpy()
    assert (model.predict(view)[test] == truth[test]).mean() > 0.8


@pytest.mark.parametrize("shape", [(60, 40), (30, 50)])  # fewer genes than cells, and more
def test_gene_pca_equals_sklearn_up_to_sign(shape):
    from sklearn.decomposition import PCA

    from dance.single.annotation.scdeepsort import gene_pca

    rng = np.random.default_rng(0)
    x = sp.random(*shape, density=0.3, random_state=rng, format="csr") * 5
    scores, explained = gene_pca(x, 5)
    pca = PCA(n_components=5, svd_solver="full").fit(x.T.toarray())
    expected = pca.transform(x.T.toarray())
    assert np.allclose(np.abs(scores), np.abs(expected), atol=1e-8)
    assert explained == pytest.approx(pca.explained_variance_ratio_.sum())
