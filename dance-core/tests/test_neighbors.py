from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from dance.core.community import communities, communities_with_n
from dance.core.neighbors import knn, umap_connectivities


def test_knn_is_exact_and_each_point_is_its_own_first_neighbour():
    from sklearn.neighbors import NearestNeighbors

    x = np.random.default_rng(0).normal(size=(400, 8)).astype(np.float32)
    indices, distances = knn(x, 10)
    assert (indices[:, 0] == np.arange(400)).all() and np.allclose(distances[:, 0], 0)
    expected = NearestNeighbors(n_neighbors=10).fit(x).kneighbors(x, return_distance=False)
    assert (np.sort(indices, axis=1) == np.sort(expected, axis=1)).mean() > 0.99


def test_connectivities_equal_umaps_fuzzy_simplicial_set():
    umap = pytest.importorskip("umap.umap_")
    x = np.random.default_rng(1).normal(size=(300, 6)).astype(np.float32)
    indices, distances = knn(x, 15)
    expected, _, _ = umap.fuzzy_simplicial_set(sp.coo_matrix((300, 1)), 15, None, None, knn_indices=indices, knn_dists=distances)
    assert abs(umap_connectivities(indices, distances) - expected.tocsr()).max() < 1e-4


def _two_cliques() -> sp.csr_matrix:
    block = np.ones((20, 20)) - np.eye(20)
    graph = sp.block_diag([block, block, block]).tolil()
    graph[0, 20] = graph[20, 0] = graph[20, 40] = graph[40, 20] = 1
    return graph.tocsr()


def test_communities_find_planted_groups_and_are_seeded():
    graph = _two_cliques()
    for method in ("leiden", "louvain"):
        labels = communities(graph, method=method, seed=0)
        assert len(set(labels)) == 3
        assert (labels == communities(graph, method=method, seed=0)).all()


def test_resolution_bisection_reaches_the_requested_count():
    # four cliques forming two tightly linked pairs: 2 clusters at low resolution, 4 at high
    rng = np.random.default_rng(0)
    block = np.ones((15, 15)) - np.eye(15)
    graph = sp.block_diag([block] * 4).tolil()
    for a, b in ((0, 15), (30, 45)):
        for i, j in zip(rng.integers(a, a + 15, 40), rng.integers(b, b + 15, 40), strict=False):
            graph[i, j] = graph[j, i] = 1
    graph[0, 30] = graph[30, 0] = 1
    for wanted in (2, 4):
        labels, resolution = communities_with_n(graph.tocsr(), wanted, method="leiden")
        assert len(set(labels)) == wanted and resolution > 0


def test_neighbour_search_keeps_small_distances_between_large_coordinates():
    """Spot coordinates are pixels in the thousands: float32 FAISS must still see the lattice."""
    from dance.core.neighbors import NeighborIndex, radius_neighbors

    rows, cols = np.meshgrid(np.arange(20), np.arange(20))
    coords = np.column_stack([rows.ravel(), cols.ravel()]) * 137.5 + 12_000.0
    indices, distances = knn(coords, 5)
    assert (indices[:, 0] == np.arange(len(coords))).all()
    assert np.allclose(distances[:, 0], 0, atol=1e-3) and np.allclose(distances[:, 1], 137.5, rtol=1e-5)
    graph = radius_neighbors(coords, 1.2 * 137.5)
    assert np.array_equal(
        np.diff(graph.indptr), [4 - (r in (0, 19)) - (c in (0, 19)) for r, c in zip(rows.ravel(), cols.ravel(), strict=True)]
    )
    manhattan, _ = NeighborIndex(coords, metric="manhattan").search(coords[:1] + 1.0, 3)
    assert manhattan[0, 0] == 0
