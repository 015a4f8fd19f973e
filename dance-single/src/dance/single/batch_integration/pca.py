"""Unintegrated PCA: the control every integration method must beat on batch mixing."""

from __future__ import annotations

from typing import Any

from dance.core.tasks.batch_integration import BatchIntegrationModel
from dance.core.transforms.pipeline import Step
from dance.single.batch_integration.input_embedding import EmbeddingInput, embedding_pipeline, input_embedding


class PCA(BatchIntegrationModel):
    """Principal components of log-normalised, scaled HVG expression, with no batch correction
    (the "unintegrated" reference of scIB, Luecken et al. 2022, Nat Methods 19:41-50). With
    ``use_rep`` (set automatically for inputs that declare an embedding) that embedding is
    returned as it is."""

    name = "pca"
    transductive = True

    Params = EmbeddingInput

    def build_pipeline(self) -> tuple[Step, ...]:
        return embedding_pipeline(self.params)

    def _fit(self, data: Any) -> None:
        self.embedding_ = input_embedding(data, self.params)

    def _predict(self, data: Any) -> Any:
        return self.embedding_
