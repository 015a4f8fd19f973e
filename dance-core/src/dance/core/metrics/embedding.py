"""scIB-style metrics of an embedding (Luecken et al. 2022, "Benchmarking atlas-level data
integration in single-cell genomics", Nat Methods 19:41-50).

:class:`EmbeddingEvaluation` holds an embedding with its labels and batches and caches the
expensive shared pieces (the kNN graph and the NMI-optimal Leiden clustering), so every
metric of a run computes them once. Metrics are ``fn(truth, evaluation) -> float | None``.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp

from dance.core.metrics.labels import adjusted_rand_index, normalized_mutual_information

__all__ = [
    "EmbeddingEvaluation",
    "asw_batch",
    "asw_label",
    "cluster_ari",
    "cluster_nmi",
    "graph_connectivity",
]

#: resolutions scanned for the NMI-optimal Leiden clustering, as scIB does
RESOLUTIONS = tuple(round(0.1 * i, 1) for i in range(1, 21))


class EmbeddingEvaluation:
    """An embedding to score, with labels and batches of its cells.

    Parameters
    ----------
    embedding
        Cells x dims.
    labels, batch
        Cell-type and batch of each cell (either may be ``None``).
    seed
        Seed of the Leiden clustering.
    n_neighbors
        Neighbours of the kNN graph (scIB uses 15).
    """

    def __init__(
        self, embedding: Any, labels: Any | None = None, batch: Any | None = None, *, seed: int = 0, n_neighbors: int = 15
    ) -> None:
        self.embedding = np.asarray(embedding, dtype=np.float32)
        self.labels = None if labels is None else np.asarray(labels).astype(str)
        self.batch = None if batch is None else np.asarray(batch).astype(str)
        self.seed = seed
        self.n_neighbors = int(min(n_neighbors, max(2, self.embedding.shape[0] - 1)))

    @cached_property
    def connectivities(self) -> sp.csr_matrix:
        """UMAP connectivities of the embedding's kNN graph (FAISS neighbours)."""
        from dance.core.neighbors import knn_graph_matrices

        return knn_graph_matrices(self.embedding, self.n_neighbors, seed=self.seed)[1]

    @cached_property
    def optimal_clusters(self) -> np.ndarray:
        """Leiden clusters at the resolution (0.1 to 2.0) that maximises NMI with the labels."""
        from dance.core.community import _graph, communities

        if self.labels is None:
            raise ValueError("optimal clustering needs labels")
        graph = _graph(self.connectivities)
        best, best_nmi = None, -1.0
        for resolution in RESOLUTIONS:
            clusters = communities(self.connectivities, method="leiden", resolution=resolution, seed=self.seed, graph=graph)
            nmi = normalized_mutual_information(self.labels, clusters)
            if nmi > best_nmi:
                best, best_nmi = clusters, nmi
        return np.asarray(best)


def cluster_nmi(truth: Any, evaluation: EmbeddingEvaluation) -> float | None:
    """NMI between the labels and NMI-optimal Leiden clusters of the embedding."""
    if evaluation.labels is None:
        return None
    return normalized_mutual_information(evaluation.labels, evaluation.optimal_clusters)


def cluster_ari(truth: Any, evaluation: EmbeddingEvaluation) -> float | None:
    """ARI between the labels and NMI-optimal Leiden clusters of the embedding."""
    if evaluation.labels is None:
        return None
    return adjusted_rand_index(evaluation.labels, evaluation.optimal_clusters)


def asw_label(truth: Any, evaluation: EmbeddingEvaluation) -> float | None:
    """Cell-type average silhouette width, rescaled to [0, 1]: (ASW + 1) / 2."""
    from sklearn.metrics import silhouette_score

    if evaluation.labels is None or len(np.unique(evaluation.labels)) < 2:
        return None
    return float((silhouette_score(evaluation.embedding, evaluation.labels) + 1) / 2)


def asw_batch(truth: Any, evaluation: EmbeddingEvaluation) -> float | None:
    """Batch ASW per cell type: mean over types of mean(1 - |silhouette of batch|) (scIB).

    Cell types present in a single batch are skipped, as in scIB. Without labels, all cells
    form one group.
    """
    from sklearn.metrics import silhouette_samples

    if evaluation.batch is None:
        return None
    labels = evaluation.labels if evaluation.labels is not None else np.zeros(len(evaluation.batch), dtype=str)
    scores = []
    for label in np.unique(labels):
        members = labels == label
        batches = evaluation.batch[members]
        if len(np.unique(batches)) < 2 or members.sum() < 3:
            continue
        silhouette = silhouette_samples(evaluation.embedding[members], batches)
        scores.append(np.mean(1 - np.abs(silhouette)))
    return float(np.mean(scores)) if scores else None


def graph_connectivity(truth: Any, evaluation: EmbeddingEvaluation) -> float | None:
    """Mean over cell types of the fraction of its cells in the largest connected component of
    the kNN graph restricted to that type (scIB)."""
    from scipy.sparse.csgraph import connected_components

    if evaluation.labels is None:
        return None
    graph = evaluation.connectivities
    fractions = []
    for label in np.unique(evaluation.labels):
        members = np.flatnonzero(evaluation.labels == label)
        _, component = connected_components(graph[members][:, members], directed=False)
        fractions.append(np.bincount(component).max() / len(members))
    return float(np.mean(fractions))
