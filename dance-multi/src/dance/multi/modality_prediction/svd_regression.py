"""Truncated SVD + linear regression: the NeurIPS 2021 modality-prediction baseline."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from dance.core.models.base import ModelParams
from dance.core.tasks.modality_prediction import ModalityPredictionModel, training_pairs
from dance.core.transforms.pipeline import Step, step


class SVDRegression(ModalityPredictionModel):
    """Reduce the source modality (PCA of expression, LSI of peaks; fitted on all cells) and
    regress the target modality on it with ridge regression fitted on the training pairs: the
    linear baseline of the NeurIPS 2021 multimodal challenge (Lance et al. 2022, PMLR 176:162)."""

    name = "svd_regression"

    class Params(ModelParams):
        n_components: int = Field(50, ge=2, description="components of the source modality")
        alpha: float = Field(1.0, ge=0, description="ridge penalty")

    def build_pipeline(self) -> tuple[Step, ...]:
        return (step("modality_reduction", on="mod1", n_comps=self.params.n_components),)

    def _fit(self, data: Any) -> None:
        from sklearn.linear_model import Ridge

        mod1, mod2 = training_pairs(data, self.keys)
        target = mod2.X.toarray() if sp.issparse(mod2.X) else np.asarray(mod2.X)
        self.regression_ = Ridge(alpha=self.params.alpha).fit(mod1.obsm["X_reduced"], target)

    def _predict(self, data: Any) -> Any:
        return self.regression_.predict(data.mod1.obsm["X_reduced"]).astype(np.float32)
