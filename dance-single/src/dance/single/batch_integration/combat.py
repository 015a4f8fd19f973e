"""ComBat batch correction of expression."""

from __future__ import annotations

from typing import Any

import numpy as np

from dance.core.models.base import ModelParams
from dance.core.tasks.batch_integration import BatchIntegrationModel
from dance.core.transforms.pipeline import step


class ComBat(BatchIntegrationModel):
    """ComBat (Johnson, Li & Rabinovic 2007, Biostatistics 8:118-127): empirical-Bayes location
    and scale adjustment of each gene per batch, on log-normalised expression (scanpy's
    implementation). Outputs corrected expression; its PCA is the scored embedding.
    """

    name = "combat"
    output_kind = "corrected"
    transductive = True
    Params = ModelParams
    default_pipeline = (step("log_normalize"),)

    def _fit(self, data: Any) -> None:
        import scanpy as sc

        adata = data.copy()
        adata.X = adata.X.toarray() if hasattr(adata.X, "toarray") else np.asarray(adata.X)
        adata.obs[self.keys.batch_key] = adata.obs[self.keys.batch_key].astype(str).astype("category")
        corrected = sc.pp.combat(adata, key=self.keys.batch_key, inplace=False)
        self.corrected_ = np.nan_to_num(np.asarray(corrected, dtype=np.float32))

    def _predict(self, data: Any) -> Any:
        return self.corrected_
