"""stLearn's SME clustering: spatial morphological gene-expression normalisation, then Louvain."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from dance.core.community import communities, communities_with_n
from dance.core.models.base import ModelParams
from dance.core.neighbors import knn_graph_matrices
from dance.core.tasks.spatial_domain import SpatialDomainModel
from dance.core.transforms.pipeline import step
from dance.spatial.graphs import as_dense, lattice_neighbours, morphology_features, pairwise_distances, spot_image, spot_spacing
from dance.spatial.spatial_domain.common import renumber


def sme_weights(
    coords: np.ndarray, expression_pcs: np.ndarray, morphology: np.ndarray | None, *, radius: float
) -> tuple[np.ndarray, dict[str, Any]]:
    """stLearn's weight matrix between spots: physical adjacency (1 within ``radius``, the spot
    itself included) x correlation of expression PCs x (when given) cosine similarity of
    morphology features clipped at 0."""
    from sklearn.metrics import pairwise_distances as sk_distances

    physical = (pairwise_distances(coords) < radius).astype(np.float64)
    expression = 1.0 - sk_distances(expression_pcs, metric="correlation")
    weights = physical * expression
    info: dict[str, Any] = {"mean_physical_neighbours": round(float(physical.sum(axis=1).mean() - 1), 3)}
    if morphology is not None:
        similarity = np.clip(1.0 - sk_distances(morphology, metric="cosine"), 0.0, None)
        weights = weights * similarity
    return weights, info


def sme_normalize(x: np.ndarray, weights: np.ndarray, n_neighbours: int = 3) -> np.ndarray:
    """SME normalisation (Pham et al. 2023): each spot's expression is averaged with the weighted
    mean of its ``n_neighbours`` highest-weight spots (itself usually among them); where that
    weighted mean is 0 the spot's own value is kept."""
    top = np.argsort(weights, axis=1, kind="stable")[:, -n_neighbours:]
    top_weights = np.take_along_axis(weights, top, axis=1)
    totals = top_weights.sum(axis=1, keepdims=True)
    scaled = np.where(totals > 0, top_weights / np.where(totals > 0, totals, 1.0), 0.0)
    rows = np.repeat(np.arange(x.shape[0]), top.shape[1])
    averaging = sp.csr_matrix((scaled.ravel(), (rows, top.ravel())), shape=(x.shape[0], x.shape[0]))
    imputed = np.asarray(averaging @ x, dtype=x.dtype)
    return np.where(imputed == 0, x, (x + imputed) / 2.0)


class StLearn(SpatialDomainModel):
    """stLearn SME clustering (Pham et al. 2023, Nat Commun 14:7739; bioRxiv 2020).

    Expression is log-normalised (genes detected in at least one spot) and reduced to 50
    principal components. SME normalisation then links each spot to the spots within a physical
    radius (stLearn: 3 array pitches on Visium's hexagonal array, 1.5 x the array-step diagonal
    on the old ST array), weights them by the correlation of their expression PCs and, when the
    data carry a tissue image, by the cosine similarity of the image tiles under them, and
    replaces each spot's expression by the mean of itself and the weighted average of its three
    highest-weight spots. The normalised expression is scaled, reduced to 30 principal
    components and clustered by Louvain on the kNN graph (resolution searched by bisection when
    the number of domains is given). Spatial sub-clustering (stLearn's ``localization``) splits
    every cluster into the spatially connected groups found by DBSCAN on the coordinates
    (``eps`` = 1.5 pitches); the sub-clusters are the prediction when ``subclusters=True``, and
    their number is recorded either way.

    Deviations: stLearn describes tiles with an ImageNet ResNet50; pretrained weights are not
    available offline, so tiles are described by PCA of their block-averaged RGB pixels
    (:func:`dance.spatial.graphs.morphology_features`). The physical radius comes from the lattice
    pitch rather than a regression of pixel on array coordinates (the same quantity).
    """

    name = "stlearn"

    class Params(ModelParams):
        n_clusters: int | None = Field(None, ge=2, description="number of domains (Louvain resolution searched); None: use resolution")
        resolution: float = Field(1.0, gt=0, description="Louvain resolution when n_clusters is None")
        pre_pcs: int = Field(50, ge=2, description="principal components whose correlation weights SME neighbours")
        n_pcs: int = Field(30, ge=2, description="principal components of the SME-normalised expression")
        n_neighbors: int = Field(15, ge=2, description="neighbours of the kNN graph clustered by Louvain")
        sme_neighbours: int = Field(3, ge=1, description="highest-weight spots averaged by SME (the spot itself included)")
        radius: float | None = Field(
            None, gt=0, description="physical radius of SME neighbours in pitches; None: 3 (hexagonal array) or 1.5 x sqrt(2) (square)"
        )
        use_morphology: bool = Field(True, description="weight SME neighbours by image similarity when a tissue image is present")
        subclusters: bool = Field(False, description="predict the spatial sub-clusters instead of the clusters")
        eps: float = Field(1.5, gt=0, description="DBSCAN radius of the spatial sub-clustering, in pitches")

    quick_params: dict[str, Any] = {}

    def build_pipeline(self) -> tuple[Any, ...]:
        return (
            step("filter_genes", min_cells=1),
            step("log_normalize", target_sum=1e4),
            step("pca", n_comps=self.params.pre_pcs),
        )

    def _fit(self, data: Any) -> None:
        from sklearn.cluster import DBSCAN
        from sklearn.decomposition import PCA

        p = self.params
        coords = np.asarray(data.obsm[self.keys.spatial_key], dtype=np.float64)[:, :2]
        pitch = spot_spacing(coords)
        hexagonal = lattice_neighbours(coords) == 6
        radius = (p.radius if p.radius is not None else (3.0 if hexagonal else 1.5 * np.sqrt(2))) * pitch
        image = spot_image(data, self.keys) if p.use_morphology else None
        morphology = morphology_features(image, seed=self.seed) if image is not None else None
        weights, info = sme_weights(coords, np.asarray(data.obsm["X_pca"], dtype=np.float64), morphology, radius=radius * 1.0001)
        x = as_dense(data.X).astype(np.float32)
        smoothed = sme_normalize(x, weights, p.sme_neighbours)
        smoothed = smoothed - smoothed.mean(axis=0)
        std = smoothed.std(axis=0)
        smoothed = smoothed / np.where(std > 0, std, 1.0)
        n_pcs = int(min(p.n_pcs, smoothed.shape[0] - 1, smoothed.shape[1] - 1))
        embedding = PCA(n_components=n_pcs, random_state=self.seed).fit_transform(smoothed).astype(np.float32)
        _, connectivities = knn_graph_matrices(embedding, p.n_neighbors, seed=self.seed)
        if p.n_clusters is not None:
            labels, resolution = communities_with_n(connectivities, p.n_clusters, method="louvain", seed=self.seed)
        else:
            resolution = p.resolution
            labels = communities(connectivities, method="louvain", resolution=resolution, seed=self.seed)
        sub = np.empty(len(labels), dtype=object)
        for cluster in np.unique(labels):
            members = np.flatnonzero(labels == cluster)
            groups = DBSCAN(eps=p.eps * pitch, min_samples=1).fit_predict(coords[members])
            sub[members] = [f"{cluster}_{g}" for g in groups]
        sub_labels = renumber(np.unique(sub.astype(str), return_inverse=True)[1])
        self.embedding_ = embedding
        self.labels_ = sub_labels if p.subclusters else renumber(labels)
        self.notes_ = {
            **info,
            "morphology_used": morphology is not None,
            "resolution": round(float(resolution), 4),
            "n_clusters_found": int(labels.max()) + 1,
            "n_subclusters": int(sub_labels.max()) + 1,
        }

    def _predict(self, data: Any) -> Any:
        return self.labels_
