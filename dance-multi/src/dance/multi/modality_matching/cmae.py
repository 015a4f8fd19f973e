"""Cross-modal autoencoders for modality matching: the two modalities' codes in the shared latent space."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from dance.core.tasks.modality_matching import ModalityMatchingModel
from dance.multi.modality_prediction.cmae import CMAEParams


class CMAEMatchingParams(CMAEParams):
    top_k: int = Field(50, ge=1, description="candidates kept per cell in the soft score")
    temperature: float = Field(0.05, gt=0, description="softmax temperature on cosine similarities of latent codes")
    assignment_weight: float = Field(0.5, ge=0, le=1, description="weight of the one-to-one assignment in the scores")


class CMAEMatching(ModalityMatchingModel):
    """Cross-modal autoencoders (Yang et al. 2021, Nat Commun 12:31) trained on the training pairs
    as for prediction (:class:`~dance.multi.modality_prediction.cmae.CMAE`); test cells of mod1
    (rows) are scored against those of mod2 (columns) by the cosine similarity of their latent
    codes, turned into the challenge's scores like the baselines. DANCE's port takes a hard
    1-nearest-neighbour (L1) with rows and columns swapped relative to its labels."""

    name = "cmae"
    Params = CMAEMatchingParams
    quick_params = {"epochs": 2, "patience": 2, "batch_size": 32}

    def _fit(self, data: Any) -> None:
        from dance.multi.modality_prediction.cmae import fit_cmae

        train1, train2 = self.split_masks(data)
        mod1 = data.mod1[train1]
        batch = mod1.obs[self.keys.batch_key].to_numpy() if self.keys.batch_key in mod1.obs.columns else None
        self.module_ = fit_cmae(self, mod1, data.mod2[train2], batch)

    def _codes(self, adata: Any, modality: int) -> np.ndarray:
        from dance.multi.modality_prediction.cmae import dense_rows
        from dance.nn.data import RowMatrix, predict_in_batches

        rows = RowMatrix(dense_rows(adata.X), self.device_)
        encoder = self.module_.autoencoders[modality]
        return predict_in_batches(lambda index: encoder.encode(rows[index]), rows.n, batch_size=2048).cpu().numpy()

    def _predict(self, data: Any) -> Any:
        from dance.multi.modality_matching.scores import cosine_similarity, soft_assignment_scores

        train1, train2 = self.split_masks(data)
        p = self.params
        similarity = cosine_similarity(self._codes(data.mod1[~train1], 0), self._codes(data.mod2[~train2], 1))
        return soft_assignment_scores(similarity, top_k=p.top_k, temperature=p.temperature, assignment_weight=p.assignment_weight)
