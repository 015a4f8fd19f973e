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
    epochs: int | None = Field(
        None,
        ge=1,
        description="most epochs; None: DANCE's matching example's 50, or 9 when a modality is peaks (SNARE-seq: about 55 s an "
        "epoch on two CPU cores)",
    )
    n_top_features: int = Field(
        10_000,
        ge=2,
        description="a modality with more features keeps its most variable ones, seurat_v3 on counts (DANCE's matching example: 10,000)",
    )


class CMAEMatching(ModalityMatchingModel):
    """Cross-modal autoencoders (Yang et al. 2021, Nat Commun 12:31) trained on the training pairs
    as for prediction (:class:`~dance.multi.modality_prediction.cmae.CMAE`); test cells of mod1
    (rows) are scored against those of mod2 (columns) by the cosine similarity of their latent
    codes, turned into the challenge's scores like the baselines. As DANCE's matching example, a
    modality with more than 10,000 features keeps its 10,000 most variable (Seurat v3 on counts)
    and training stops after at most 50 epochs (9 when a modality is peaks, to fit 10 minutes on two
    CPU cores). DANCE's port takes a hard
    1-nearest-neighbour (L1) with rows and columns swapped relative to its labels."""

    name = "cmae"
    Params = CMAEMatchingParams
    quick_params = {"epochs": 2, "patience": 2, "batch_size": 32}

    def _fit(self, data: Any) -> None:
        from dance.multi.modality_kinds import default_epochs, modality_kinds
        from dance.multi.modality_prediction.cmae import fit_cmae

        train1, train2 = self.split_masks(data)
        mod1, mod2 = data.mod1[train1], data.mod2[train2]
        batch = mod1.obs[self.keys.batch_key].to_numpy() if self.keys.batch_key in mod1.obs.columns else None
        self.features_ = [self._most_variable(adata, role) for adata, role in ((mod1, "mod1"), (mod2, "mod2"))]
        mod1, mod2 = (adata if names is None else adata[:, names] for adata, names in zip((mod1, mod2), self.features_, strict=True))
        self.module_ = fit_cmae(self, mod1, mod2, batch, default_epochs(self.params.epochs, modality_kinds(data), usual=50, with_peaks=9))

    def _most_variable(self, adata: Any, role: str) -> list[str] | None:
        """DANCE's ``feature_selection`` for its CMAE matching example: above ``n_top_features``
        features, the most variable by Seurat v3's rule on counts (the counts layer, else X)."""
        from dance.multi.features import most_variable_counts

        if adata.n_vars <= self.params.n_top_features:
            return None
        counts = adata.layers.get(self.keys.counts_layer, adata.X)
        keep = most_variable_counts(counts, self.params.n_top_features, role=role)
        return [str(name) for name in adata.var_names[keep]]

    def _codes(self, adata: Any, modality: int) -> np.ndarray:
        from dance.multi.modality_prediction.cmae import dense_rows
        from dance.nn.data import RowMatrix, predict_in_batches

        if self.features_[modality] is not None:
            adata = adata[:, self.features_[modality]]
        rows = RowMatrix(dense_rows(adata.X), self.device_)
        encoder = self.module_.autoencoders[modality]
        return predict_in_batches(lambda index: encoder.encode(rows[index]), rows.n, batch_size=2048).cpu().numpy()

    def _predict(self, data: Any) -> Any:
        from dance.multi.modality_matching.scores import cosine_similarity, soft_assignment_scores

        train1, train2 = self.split_masks(data)
        p = self.params
        similarity = cosine_similarity(self._codes(data.mod1[~train1], 0), self._codes(data.mod2[~train2], 1))
        return soft_assignment_scores(similarity, top_k=p.top_k, temperature=p.temperature, assignment_weight=p.assignment_weight)
