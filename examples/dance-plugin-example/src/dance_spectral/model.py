"""Spectral clustering as a dance clustering model."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from dance.core import ModelParams
from dance.core.tasks.clustering import ClusteringModel
from dance.core.transforms.pipeline import Step, step


class SpectralClustering(ClusteringModel):
    """Spectral clustering (Ng, Jordan & Weiss 2001) of the symmetric kNN graph of PCA of
    log-normalised, scaled expression (scikit-learn's implementation)."""

    name = "spectral"

    class Params(ModelParams):
        n_clusters: int | None = Field(
            None, ge=2, description="number of clusters; None: 8 (dance run --n-clusters N or --n-clusters-from-labels sets it)"
        )
        n_neighbors: int = Field(15, ge=2)
        n_pcs: int = Field(30, ge=2)

    def build_pipeline(self) -> tuple[Step, ...]:
        return (step("log_normalize"), step("scale", max_value=10.0), step("pca", n_comps=self.params.n_pcs))

    def _fit(self, data: Any) -> None:
        from sklearn.cluster import SpectralClustering as SklearnSpectral

        n_clusters = self.params.n_clusters or 8
        self.notes_ = {"n_clusters_used": n_clusters}
        model = SklearnSpectral(
            n_clusters=n_clusters,
            affinity="nearest_neighbors",
            n_neighbors=min(self.params.n_neighbors, data.n_obs - 1),
            assign_labels="cluster_qr",
            random_state=self.seed,
        )
        self.labels_ = model.fit_predict(data.obsm["X_pca"])

    def _predict(self, data: Any) -> Any:
        return self.labels_
