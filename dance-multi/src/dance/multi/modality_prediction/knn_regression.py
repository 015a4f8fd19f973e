"""k-nearest-neighbour regression on a truncated SVD: the challenge's KNNR (Python) baseline."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from dance.core.models.base import ModelParams
from dance.core.tasks.modality_prediction import ModalityPredictionModel, training_pairs


class KNNRegression(ModalityPredictionModel):
    """Reduce the source modality with a truncated SVD (fitted on every cell given to ``fit``,
    test inputs included, as the baseline did), then predict each cell's target modality as the
    mean over its ``n_neighbors`` nearest training cells (Euclidean, FAISS). The NeurIPS 2021
    challenge's ``baseline_knnr_py`` (50 components, 100 neighbours; Lance et al. 2022, PMLR
    176:162), the strongest of its simple baselines on three of the four directions."""

    name = "knn_regression"

    class Params(ModelParams):
        n_components: int = Field(50, ge=1, description="truncated-SVD components of the source modality")
        n_neighbors: int = Field(100, ge=1, description="training cells averaged per prediction")

    def _fit(self, data: Any) -> None:
        from sklearn.decomposition import TruncatedSVD

        x = data.mod1.X
        n = int(min(self.params.n_components, min(x.shape) - 1))
        self.svd_ = TruncatedSVD(n_components=max(n, 1), random_state=self.seed).fit(x)
        mod1, mod2 = training_pairs(data, self.keys)
        self.train_embedding_ = self.svd_.transform(mod1.X).astype(np.float32)
        # sparse targets (binarised peaks) stay sparse: predictions are averaged by a sparse product
        self.train_target_ = sp.csr_matrix(mod2.X, dtype=np.float32) if sp.issparse(mod2.X) else np.asarray(mod2.X, dtype=np.float32)

    def _predict(self, data: Any) -> Any:
        from dance.core.neighbors import knn

        query = self.svd_.transform(data.mod1.X).astype(np.float32)
        k = min(self.params.n_neighbors, self.train_embedding_.shape[0])
        indices, _ = knn(self.train_embedding_, k, query=query, seed=self.seed)
        rows = np.repeat(np.arange(query.shape[0]), k)
        weights = sp.csr_matrix(
            (np.full(rows.size, 1.0 / k, dtype=np.float32), (rows, indices.ravel())), shape=(query.shape[0], self.train_embedding_.shape[0])
        )
        prediction = weights @ self.train_target_
        return np.asarray(prediction.toarray() if sp.issparse(prediction) else prediction, dtype=np.float32)
