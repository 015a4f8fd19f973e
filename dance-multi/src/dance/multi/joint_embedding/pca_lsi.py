"""Concatenated per-modality PCA / LSI: the NeurIPS 2021 joint-embedding baseline."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from dance.core.models.base import ModelParams
from dance.core.tasks.joint_embedding import JointEmbeddingModel
from dance.core.transforms.pipeline import Step, step


class PCALSI(JointEmbeddingModel):
    """PCA of expression (or proteins) and LSI of chromatin accessibility, each block scaled to
    unit total variance and concatenated (the joint-embedding baseline of the NeurIPS 2021
    challenge, Lance et al. 2022, PMLR 176:162)."""

    name = "pca_lsi"
    transductive = True

    class Params(ModelParams):
        n_comps_mod1: int = Field(50, ge=2)
        n_comps_mod2: int = Field(20, ge=2)

    def build_pipeline(self) -> tuple[Step, ...]:
        return (
            step("modality_reduction", on="mod1", n_comps=self.params.n_comps_mod1),
            step("modality_reduction", on="mod2", n_comps=self.params.n_comps_mod2),
        )

    def _fit(self, data: Any) -> None:
        blocks = []
        for adata in (data.mod1, data.mod2):
            z = np.asarray(adata.obsm["X_reduced"], dtype=np.float64)
            z = z - z.mean(axis=0)
            blocks.append(z / np.sqrt(max(z.var(axis=0).sum(), 1e-12)))
        self.embedding_ = np.hstack(blocks).astype(np.float32)

    def _predict(self, data: Any) -> Any:
        return self.embedding_
