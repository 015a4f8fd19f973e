from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch_geometric.nn import GCNConv

from dance.nn.graphs import edge_index_from_adjacency, knn_adjacency, normalize_adjacency, sparse_adjacency


def _distances() -> sp.csr_matrix:
    # 0 -> 1, 1 -> 2, 2 -> 1, 3 -> 0 (a directed kNN graph without self, as obsp['distances'])
    return sp.csr_matrix((np.array([0.5, 0.3, 0.3, 0.7]), (np.array([0, 1, 2, 3]), np.array([1, 2, 1, 0]))), shape=(4, 4))


def test_knn_adjacency_is_binary_symmetric_with_self_loops():
    adjacency = knn_adjacency(_distances()).toarray()
    expected = np.array([[1, 1, 0, 1], [1, 1, 1, 0], [0, 1, 1, 0], [1, 0, 0, 1]], dtype=np.float32)
    assert np.array_equal(adjacency, expected)
    directed = knn_adjacency(_distances(), symmetric=False, self_loops=False).toarray()
    assert directed.sum() == 4 and np.trace(directed) == 0 and directed[0, 1] == 1 and directed[1, 0] == 0
    # an existing self loop is not doubled
    with_self = _distances() + sp.eye(4)
    assert knn_adjacency(with_self).diagonal().tolist() == [1, 1, 1, 1]


def test_normalisations():
    adjacency = knn_adjacency(_distances())
    rows = normalize_adjacency(adjacency, "row").toarray()
    assert np.allclose(rows.sum(1), 1)
    dense = adjacency.toarray()
    d = dense.sum(1)
    assert np.allclose(normalize_adjacency(adjacency, "symmetric").toarray(), dense / np.sqrt(np.outer(d, d)))
    empty_row = normalize_adjacency(sp.csr_matrix(np.array([[0.0, 0.0], [1.0, 1.0]])), "row").toarray()
    assert np.allclose(empty_row, [[0, 0], [0.5, 0.5]])


def test_message_passing_with_the_edges_computes_the_matrix_product():
    rng = np.random.default_rng(0)
    weights = sp.random(6, 6, density=0.4, random_state=1, format="csr", dtype=np.float32)  # not symmetric
    x = torch.tensor(rng.normal(size=(6, 3)), dtype=torch.float32)
    edge_index, edge_weight = edge_index_from_adjacency(weights)
    conv = GCNConv(3, 3, normalize=False, add_self_loops=False, bias=False)
    with torch.no_grad():
        conv.lin.weight.copy_(torch.eye(3))
        out = conv(x, edge_index, edge_weight)
        out_sparse = conv(x, sparse_adjacency(weights))
    expected = torch.tensor(weights.toarray()) @ x
    assert torch.allclose(out, expected, atol=1e-6) and torch.allclose(out_sparse, expected, atol=1e-6)


def test_bipartite_mean_is_the_edge_weighted_mean_both_ways_with_gradients():
    import numpy as np
    import scipy.sparse as sp
    import torch

    from dance.nn.graphs import BipartiteMean

    rng = np.random.default_rng(0)
    dense = rng.random((6, 4)) * (rng.random((6, 4)) < 0.5)
    dense[5] = 0  # a node without edges aggregates to 0
    graph = BipartiteMean(sp.csr_matrix(dense))
    weights = torch.as_tensor(dense, dtype=torch.float32)
    h = torch.randn(4, 3, requires_grad=True)
    degree = (weights != 0).sum(dim=1, keepdim=True).clamp(min=1)
    expected = weights @ h / degree
    out = graph(h)
    assert torch.allclose(out, expected, atol=1e-6)
    (grad,) = torch.autograd.grad(out.sum(), h)
    (expected_grad,) = torch.autograd.grad(expected.sum(), h)
    assert torch.allclose(grad, expected_grad, atol=1e-6)
    cells = torch.randn(6, 3)
    column_degree = (weights != 0).sum(dim=0, keepdim=True).T.clamp(min=1)
    assert torch.allclose(graph.transposed()(cells), weights.T @ cells / column_degree, atol=1e-6)
    dropped = graph(h, dropout=0.5, training=True)
    assert dropped.shape == out.shape and not torch.allclose(dropped, out)
