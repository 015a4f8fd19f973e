"""Helpers shared by the spatial-domain models."""

from __future__ import annotations

import numpy as np

from dance.spatial.graphs import lattice_neighbours

__all__ = ["refine_domains", "renumber"]


def refine_domains(labels: np.ndarray, coords: np.ndarray, n_neighbours: int | None = None) -> np.ndarray:
    """SpaGCN's refinement: a spot takes the majority domain of its ``n_neighbours`` nearest
    spots (6 on a hexagonal array, 4 on a square one; detected when None) when fewer than half
    of them share its domain and more than half share the other one."""
    from dance.core.neighbors import knn

    labels = np.asarray(labels)
    k = n_neighbours or lattice_neighbours(coords)
    index, _ = knn(np.asarray(coords, dtype=np.float64), min(k + 1, len(labels)))
    refined = labels.copy()
    for i, row in enumerate(index):
        values, counts = np.unique(labels[row], return_counts=True)
        own = counts[values == labels[i]].sum()
        if own < k / 2 and counts.max() > k / 2:
            refined[i] = values[np.argmax(counts)]
    return refined


def renumber(labels: np.ndarray) -> np.ndarray:
    """Consecutive domain numbers by decreasing size."""
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[inverse]
