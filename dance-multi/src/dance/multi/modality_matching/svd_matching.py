"""Shared-space matching: both modalities reduced, mapped into one space, matched as a bipartite graph."""

from __future__ import annotations

from typing import Any

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
        from dance.multi.modality_matching.scores import cosine_similarity, soft_assignment_scores

        train1, train2 = self.split_masks(data)
        projected = self.map_.predict(data.mod1.obsm["X_reduced"][~train1])
        targets = data.mod2.obsm["X_reduced"][~train2]
        p = self.params
        return soft_assignment_scores(
            cosine_similarity(projected, targets), top_k=p.top_k, temperature=p.temperature, assignment_weight=p.assignment_weight
        )
