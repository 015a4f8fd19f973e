"""The mean of each target feature over the training cells: the trivial prediction baseline."""

from __future__ import annotations

from typing import Any

import numpy as np

from dance.core.tasks.modality_prediction import ModalityPredictionModel, training_pairs


class MeanPerFeature(ModalityPredictionModel):
    """Predict every cell's target modality as the mean of each feature over the training cells
    ("mean per gene", a trivial baseline of the NeurIPS 2021 challenge; Lance et al. 2022, PMLR
    176:162). A model that does not beat it has learnt nothing about the cells."""

    name = "mean"

    def _fit(self, data: Any) -> None:
        _, mod2 = training_pairs(data, self.keys)
        self.mean_ = np.asarray(mod2.X.mean(axis=0), dtype=np.float32).ravel()

    def _predict(self, data: Any) -> Any:
        return np.tile(self.mean_, (data.mod1.n_obs, 1))
