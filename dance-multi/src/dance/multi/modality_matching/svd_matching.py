"""Shared-space matching: both modalities reduced, mapped into one space, matched as a bipartite graph."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from dance.core.models.base import ModelParams
from dance.core.tasks.modality_matching import ModalityMatchingModel
from dance.core.transforms.pipeline import Step, step


class SVDMatching(ModalityMatchingModel):
    """Each modality is reduced (PCA / LSI); a ridge map learned on the training pairs takes the
    first modality into the second's space; test cells are scored by cosine similarity. The
    output mixes a soft score (softmax over each row's ``top_k`` candidates) with the optimal
    one-to-one bipartite assignment (Hungarian algorithm, Kuhn 1955), as the matching baselines of
    the NeurIPS 2021 challenge did (Lance et al. 2022, PMLR 176:162)."""

    name = "svd_matching"

    class Params(ModelParams):
        n_components: int = Field(50, ge=2)
        alpha: float = Field(1.0, ge=0, description="ridge penalty of the mod1 -> mod2 map")
        top_k: int = Field(50, ge=1, description="candidates kept per cell in the soft score")
        temperature: float = Field(0.05, gt=0, description="softmax temperature on cosine similarities")
        assignment_weight: float = Field(0.5, ge=0, le=1, description="weight of the one-to-one assignment")

    def build_pipeline(self) -> tuple[Step, ...]:
        n = self.params.n_components
        return (step("modality_reduction", on="mod1", n_comps=n), step("modality_reduction", on="mod2", n_comps=n))

    def _fit(self, data: Any) -> None:
        from sklearn.linear_model import Ridge

        train1, train2 = self.split_masks(data)
        z1, z2 = data.mod1.obsm["X_reduced"], data.mod2.obsm["X_reduced"]
        self.map_ = Ridge(alpha=self.params.alpha).fit(z1[train1], z2[train2])

    def _predict(self, data: Any) -> Any:
        from scipy.optimize import linear_sum_assignment

        train1, train2 = self.split_masks(data)
        projected = self.map_.predict(data.mod1.obsm["X_reduced"][~train1])
        targets = data.mod2.obsm["X_reduced"][~train2]

        def unit(x: np.ndarray) -> np.ndarray:
            return x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)

        similarity = unit(projected) @ unit(targets).T
        n1, n2 = similarity.shape
        k = min(self.params.top_k, n2)
        top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        logits = np.take_along_axis(similarity, top, axis=1) / self.params.temperature
        weights = np.exp(logits - logits.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        soft = sp.csr_matrix((weights.ravel(), (np.repeat(np.arange(n1), k), top.ravel())), shape=(n1, n2))
        rows, cols = linear_sum_assignment(-similarity)
        hard = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n1, n2))
        w = self.params.assignment_weight
        return ((1 - w) * soft + w * hard).tocsr()
