"""A tiny real annotation model for dance-core's own runner tests (dance-single is not needed)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from helpers import plugin_module

from dance.core.tasks.cell_type_annotation import CellTypeAnnotationModel
from dance.core.transforms.pipeline import step


class NearestCentroid(CellTypeAnnotationModel):
    """Nearest class centroid of log-normalised expression (Tibshirani et al. 2002, PNAS 99:6567)."""

    name = "centroid_test"
    default_pipeline = (step("log_normalize"),)

    def _fit(self, data: Any) -> None:
        train = self.train_mask(data)
        x = np.asarray(data.X.toarray() if hasattr(data.X, "toarray") else data.X)[train]
        y = data.obs[self.keys.label_key].astype(str).to_numpy()[train]
        self.classes_ = np.unique(y)
        self.centroids_ = np.stack([x[y == c].mean(axis=0) for c in self.classes_])

    def _predict(self, data: Any) -> Any:
        x = np.asarray(data.X.toarray() if hasattr(data.X, "toarray") else data.X)
        distances = ((x[:, None, :] - self.centroids_[None, :, :]) ** 2).sum(axis=2)
        # probabilities make the output's obsm['<model>_proba'] testable
        weights = np.exp(-(distances - distances.min(axis=1, keepdims=True)))
        self.probabilities_ = pd.DataFrame(weights / weights.sum(axis=1, keepdims=True), columns=self.classes_)
        return self.classes_[distances.argmin(axis=1)]

    def _fitted_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"classes": [str(c) for c in self.classes_]}, {"centroids": self.centroids_}

    def _restore_state(self, values: dict[str, Any], arrays: dict[str, Any]) -> None:
        self.classes_ = np.asarray(values["classes"], dtype=object)
        self.centroids_ = np.asarray(arrays["centroids"])


def centroid_plugin(name: str = "annotationplugin") -> Any:
    def dance_register_models(register):
        register(
            name="centroid_test",
            task="cell_type_annotation",
            target="annotation_helpers:NearestCentroid",
            summary="nearest-centroid annotation for tests",
            citation="Tibshirani et al. (2002) Diagnosis of multiple cancer types by shrunken centroids. PNAS 99:6567",
        )

    return plugin_module(name, dance_register_models=dance_register_models)
