"""Deep embedded clustering pieces shared by scDeepCluster, scDCC, scDSC and scTAG.

DEC (Xie, Girshick & Farhadi 2016, ICML) measures the similarity of an embedded cell ``z_i`` to
a cluster centre ``mu_j`` with a Student's t kernel,

    q_ij ∝ (1 + ||z_i - mu_j||² / alpha) ^ (-(alpha + 1) / 2),

sharpens it into the auxiliary target ``p_ij ∝ q_ij² / f_j`` (``f_j = Σ_i q_ij``, the soft cluster
frequency, which also prevents large clusters from absorbing everything) and trains embedding and
centres by minimising KL(P || Q). Centres start from k-means on the pretrained embedding.

When the number of clusters is unknown it is estimated from the pretrained embedding with
Louvain / Leiden communities of its kNN graph, as scDeepCluster and scDCC do (Louvain, 20
neighbours, resolution 0.8).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch

__all__ = [
    "changed_fraction",
    "estimate_n_clusters",
    "kl_clustering_loss",
    "kmeans_centres",
    "resolve_n_clusters",
    "soft_assignment",
    "target_distribution",
]


def soft_assignment(z: torch.Tensor, centres: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Student's t similarity of each row of ``z`` to each centre, rows summing to 1 (cells x clusters)."""
    squared = torch.sum((z.unsqueeze(1) - centres.unsqueeze(0)) ** 2, dim=2)
    q = (1.0 + squared / alpha) ** (-(alpha + 1.0) / 2.0)
    return q / q.sum(dim=1, keepdim=True)


def target_distribution(q: torch.Tensor) -> torch.Tensor:
    """DEC's auxiliary target: ``q² / cluster frequency``, renormalised per cell (no gradient)."""
    q = q.detach()
    weight = q**2 / q.sum(dim=0, keepdim=True)
    return weight / weight.sum(dim=1, keepdim=True)


def kl_clustering_loss(p: torch.Tensor, q: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """KL(P || Q) summed over clusters and averaged over cells (scDeepCluster's ``cluster_loss``)."""
    # xlogy(p, p) is p log p with 0 log 0 = 0, so the loss stays finite when a target entry underflows
    return torch.mean(torch.sum(torch.special.xlogy(p, p) - p * torch.log(q + eps), dim=1))


def kmeans_centres(z: np.ndarray, n_clusters: int, *, seed: int, n_init: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """k-means (k-means++, ``n_init`` restarts, seeded) on ``z``: ``(centres, labels)``."""
    from sklearn.cluster import KMeans

    kmeans = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=seed).fit(np.asarray(z, dtype=np.float64))
    return kmeans.cluster_centers_.astype(np.float32), kmeans.labels_.astype(np.int64)


def estimate_n_clusters(
    z: np.ndarray,
    *,
    seed: int,
    n_neighbors: int = 20,
    resolution: float = 0.8,
    method: Literal["louvain", "leiden"] = "louvain",
) -> tuple[int, np.ndarray]:
    """Number of Louvain/Leiden communities of the kNN graph of ``z`` (UMAP connectivities, FAISS
    neighbours) and the community labels. Never fewer than 2 clusters.
    """
    from dance.core.community import communities
    from dance.core.neighbors import knn_graph_matrices

    z = np.asarray(z, dtype=np.float32)
    _, connectivities = knn_graph_matrices(z, int(min(n_neighbors, z.shape[0])), seed=seed)
    labels = communities(connectivities, method=method, resolution=resolution, seed=seed)
    return max(2, int(labels.max()) + 1), labels


def changed_fraction(previous: np.ndarray, current: np.ndarray) -> float:
    """Fraction of cells whose hard assignment changed (scDeepCluster's stopping criterion)."""
    return float(np.mean(np.asarray(previous) != np.asarray(current)))


def resolve_n_clusters(model: Any, embedding: np.ndarray | None = None, *, n_neighbors: int = 20, resolution: float = 0.8) -> int:
    """``model.params.n_clusters``, or the number of Louvain communities of ``embedding``'s kNN graph.

    Writes ``n_clusters`` and ``n_clusters_estimated`` (True when estimated) into ``model.notes_``.
    """
    notes = model.__dict__.setdefault("notes_", {})
    if model.params.n_clusters is not None:
        notes.update(n_clusters=int(model.params.n_clusters), n_clusters_estimated=False)
        return int(model.params.n_clusters)
    if embedding is None:
        raise ValueError("the number of clusters is unknown and no embedding was given to estimate it")
    n, _ = estimate_n_clusters(embedding, seed=model.seed, n_neighbors=n_neighbors, resolution=resolution)
    notes.update(n_clusters=n, n_clusters_estimated=True, n_clusters_estimate="louvain on the learned embedding")
    return n
