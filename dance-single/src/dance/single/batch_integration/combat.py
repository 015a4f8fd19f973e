"""ComBat batch correction of expression (or of a given embedding)."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from dance.core.models.base import ModelParams
from dance.core.tasks.batch_integration import BatchIntegrationModel, IntegrationOutput
from dance.core.transforms.pipeline import Step, step


class ComBat(BatchIntegrationModel):
    """ComBat (Johnson, Li & Rabinovic 2007, Biostatistics 8:118-127): empirical-Bayes location
    and scale adjustment of each gene per batch, on log-normalised expression (scanpy's
    implementation). Outputs corrected expression; its PCA is the scored embedding. With
    ``use_rep`` (set automatically for inputs that declare an embedding) the dimensions of that
    embedding are adjusted instead and the adjusted embedding is the output.
    """

    name = "combat"
    output_kind = "corrected"
    transductive = True

    class Params(ModelParams):
        use_rep: str | None = Field(None, description="obsm key of an embedding to adjust instead of expression")

    def build_pipeline(self) -> tuple[Step, ...]:
        return () if self.params.use_rep is not None else (step("log_normalize"),)

    def _fit(self, data: Any) -> None:
        import anndata as ad
        import scanpy as sc

        if self.params.use_rep is not None:
            from dance.single.batch_integration.input_embedding import EmbeddingInput, input_embedding

            values = input_embedding(data, EmbeddingInput(use_rep=self.params.use_rep))
            adata = ad.AnnData(X=values.astype(np.float64), obs=data.obs[[self.keys.batch_key]].copy())
        else:
            adata = data.copy()
            adata.X = adata.X.toarray() if hasattr(adata.X, "toarray") else np.asarray(adata.X)
        adata.obs[self.keys.batch_key] = adata.obs[self.keys.batch_key].astype(str).astype("category")
        # scanpy's empirical-Bayes loop divides by the previous estimate, which is 0 for genes
        # without variance in a batch; those come out as NaN and are zeroed below
        with np.errstate(divide="ignore", invalid="ignore"):
            corrected = sc.pp.combat(adata, key=self.keys.batch_key, inplace=False)
        corrected = np.nan_to_num(np.asarray(corrected, dtype=np.float32))
        self.output_ = IntegrationOutput(embedding=corrected) if self.params.use_rep is not None else corrected

    def _predict(self, data: Any) -> Any:
        return self.output_
