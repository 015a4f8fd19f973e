"""Small real models, one per task, so the runner's figures can be tested on synthetic data.

dance-core registers no models of its own; these stand in for the domain packages' models.
Each is a textbook baseline in a few lines (fast on 150 cells), not a stub: its prediction has
the structure the figure shows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dance.core.tasks.batch_integration import BatchIntegrationModel
from dance.core.tasks.cell_type_annotation import CellTypeAnnotationModel
from dance.core.tasks.cell_type_deconvolution import CellTypeDeconvolutionModel
from dance.core.tasks.clustering import ClusteringModel
from dance.core.tasks.imputation import ImputationModel
from dance.core.tasks.joint_embedding import JointEmbeddingModel
from dance.core.tasks.modality_matching import ModalityMatchingModel
from dance.core.tasks.modality_prediction import ModalityPredictionModel
from dance.core.tasks.multiomics_integration import MultiomicsIntegrationModel
from dance.core.tasks.spatial_domain import SpatialDomainModel
from dance.core.transforms.pipeline import step


def _dense(x: Any) -> np.ndarray:
    return np.asarray(x.toarray() if sp.issparse(x) else x, dtype=np.float64)


def _log_pca(x: Any, n: int = 5, seed: int = 0) -> np.ndarray:
    from sklearn.decomposition import PCA

    values = np.log1p(np.clip(_dense(x), 0, None))
    return PCA(n_components=min(n, *values.shape), random_state=seed).fit_transform(values - values.mean(axis=0))


class EmbeddedKMeans(ClusteringModel):
    """k-means (k = 3) on PCA; keeps the PCA as its learned embedding (``embedding_``)."""

    name = "embedded_kmeans"

    def _fit(self, data: Any) -> None:
        from sklearn.cluster import KMeans

        self.embedding_ = _log_pca(data.X, seed=self.seed).astype(np.float32)
        self.labels_ = KMeans(n_clusters=3, n_init=5, random_state=self.seed).fit_predict(self.embedding_)

    def _predict(self, data: Any) -> Any:
        return self.labels_


class KMeansDomains(SpatialDomainModel):
    """k-means (k = 3) of the spots' expression PCA."""

    name = "kmeans_domains"

    def _fit(self, data: Any) -> None:
        from sklearn.cluster import KMeans

        self.labels_ = KMeans(n_clusters=3, n_init=5, random_state=self.seed).fit_predict(_log_pca(data.X, seed=self.seed))

    def _predict(self, data: Any) -> Any:
        return self.labels_


class NearestCentroid(CellTypeAnnotationModel):
    """Nearest class centroid of log-normalised expression of the training cells."""

    name = "nearest_centroid"
    default_pipeline = (step("log_normalize"),)

    def _fit(self, data: Any) -> None:
        from sklearn.neighbors import NearestCentroid as Centroids

        train = self.train_mask(data)
        self.classifier_ = Centroids().fit(_dense(data.X)[train], data.obs[self.keys.label_key].astype(str).to_numpy()[train])

    def _predict(self, data: Any) -> Any:
        return self.classifier_.predict(_dense(data.X))


class GeneMeanImputation(ImputationModel):
    """Zeros replaced by the gene's mean count; observed counts kept."""

    name = "gene_mean"

    def _fit(self, data: Any) -> None:
        pass

    def _predict(self, data: Any) -> Any:
        x = _dense(data.X)
        return np.where(x > 0, x, x.mean(axis=0, keepdims=True))


class CentredPCA(BatchIntegrationModel):
    """PCA of log expression with each batch centred on its own mean (a crude correction)."""

    name = "centred_pca"

    def _fit(self, data: Any) -> None:
        pass

    def _predict(self, data: Any) -> Any:
        x = np.log1p(_dense(data.X))
        for batch in data.obs[self.keys.batch_key].unique():
            rows = (data.obs[self.keys.batch_key] == batch).to_numpy()
            x[rows] -= x[rows].mean(axis=0)
        return _log_pca(np.expm1(x).clip(0), n=5, seed=self.seed)


class RidgePrediction(ModalityPredictionModel):
    """Ridge regression of mod2 on log mod1 (training pairs)."""

    name = "ridge_prediction"

    def _fit(self, data: Any) -> None:
        from sklearn.linear_model import Ridge

        mod1, mod2 = self.training_pairs(data)
        self.regression_ = Ridge(alpha=1.0).fit(np.log1p(_dense(mod1.X)), _dense(mod2.X))

    def _predict(self, data: Any) -> Any:
        return self.regression_.predict(np.log1p(_dense(data.mod1.X)))


class RidgeMatching(ModalityMatchingModel):
    """Ridge-predicted mod2 of each mod1 test cell, scored against mod2 test cells by a Gaussian kernel."""

    name = "ridge_matching"

    def _fit(self, data: Any) -> None:
        from sklearn.linear_model import Ridge

        train1, train2 = self.split_masks(data)
        self.regression_ = Ridge(alpha=1.0).fit(np.log1p(_dense(data.mod1.X[train1])), _dense(data.mod2.X[train2]))

    def _predict(self, data: Any) -> Any:
        from scipy.spatial.distance import cdist

        train1, train2 = self.split_masks(data)
        predicted = self.regression_.predict(np.log1p(_dense(data.mod1.X[~train1])))
        distances = cdist(predicted, _dense(data.mod2.X[~train2]), "sqeuclidean")
        return np.exp(-(distances - distances.min(axis=1, keepdims=True)) / np.median(distances))


class ConcatenatedPCA(JointEmbeddingModel):
    """PCA of both modalities side by side (each log-transformed and standardised)."""

    name = "concat_pca"

    def _fit(self, data: Any) -> None:
        pass

    def _predict(self, data: Any) -> Any:
        from sklearn.preprocessing import scale

        both = np.hstack([scale(np.log1p(_dense(data.mod1.X))), scale(_dense(data.mod2.X))])
        return _log_pca(np.expm1(both).clip(0), n=5, seed=self.seed)


class SeparatePCA(MultiomicsIntegrationModel):
    """Each modality's own PCA (5 components): the unaligned baseline."""

    name = "separate_pca"

    def _fit(self, data: Any) -> None:
        pass

    def _predict(self, data: Any) -> Any:
        return _log_pca(data.mod1.X, seed=self.seed), _log_pca(data.mod2.X, seed=self.seed)


class MeanProfileNNLS(CellTypeDeconvolutionModel):
    """Non-negative least squares of each spot on the reference's mean profile per cell type."""

    name = "mean_nnls"

    def _fit(self, data: Any) -> None:
        reference = data.reference
        labels = reference.obs[self.keys.label_key].astype(str).to_numpy()
        x = _dense(reference.X)
        self.types_ = self.cell_types(data)
        self.profiles_ = np.stack([x[labels == t].mean(axis=0) for t in self.types_], axis=1)

    def _predict(self, data: Any) -> Any:
        from scipy.optimize import nnls

        spots = _dense(data.spots.X)
        weights = np.stack([nnls(self.profiles_, spot)[0] for spot in spots]) + 1e-9
        return pd.DataFrame(weights / weights.sum(axis=1, keepdims=True), columns=self.types_)


#: task -> model class, one per task
MODELS = {
    "clustering": EmbeddedKMeans,
    "spatial_domain": KMeansDomains,
    "cell_type_annotation": NearestCentroid,
    "imputation": GeneMeanImputation,
    "batch_integration": CentredPCA,
    "modality_prediction": RidgePrediction,
    "modality_matching": RidgeMatching,
    "joint_embedding": ConcatenatedPCA,
    "multiomics_integration": SeparatePCA,
    "cell_type_deconvolution": MeanProfileNNLS,
}
