"""Unintegrated PCA: the control every integration method must beat on batch mixing."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from dance.core.models.base import ModelParams
from dance.core.tasks.batch_integration import BatchIntegrationModel
from dance.core.transforms.pipeline import Step, step


class PCA(BatchIntegrationModel):
    """Principal components of log-normalised, scaled HVG expression, with no batch correction
    (the "unintegrated" reference of scIB, Luecken et al. 2022, Nat Methods 19:41-50)."""

    name = "pca"
    transductive = True

    class Params(ModelParams):
        n_top_genes: int = Field(2000, ge=10)
        n_comps: int = Field(50, ge=2)

    def build_pipeline(self) -> tuple[Step, ...]:
        return (
            step("log_normalize"),
            step("highly_variable_genes", n_top_genes=self.params.n_top_genes),
            step("scale", max_value=10.0),
            step("pca", n_comps=self.params.n_comps),
        )

    def _fit(self, data: Any) -> None:
        self.embedding_ = data.obsm["X_pca"]

    def _predict(self, data: Any) -> Any:
        return self.embedding_
