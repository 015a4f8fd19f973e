from __future__ import annotations

import numpy as np
import pytest

from dance.core.containers import SpotsAndReference


@pytest.fixture(scope="module")
def grid_data() -> SpotsAndReference:
    """Grid pseudo-spots (spatially smooth proportions, 5-15 cells each) pooled from half of the test kit's
    synthetic labelled cells (3 types, 80 genes); the other half is the reference."""
    from dance.core.testing import synthetic_data
    from dance.spatial.pseudospots import grid_pseudospots, split_reference

    cells = synthetic_data("cell_type_annotation", seed=0, n_cells=300)
    cells.obs["cell_type"] = cells.obs["cell_type"].astype(str)
    pool, reference = split_reference(cells, seed=0)
    spots = grid_pseudospots(pool, n_spots=100, n_domains=3, cell_types=sorted(cells.obs["cell_type"].unique()), seed=0)
    return SpotsAndReference(spots, reference)


@pytest.fixture
def proportion_mse():
    """``proportion_mse(prediction, data)``: mean squared error of predicted against true proportions; with
    ``prediction=None``, of the uniform guess (the bar any model must clear)."""

    def score(prediction, data: SpotsAndReference) -> float:
        truth_frame = data.spots.obsm["proportions"]
        if prediction is None:
            truth = truth_frame.to_numpy()
            return float(np.mean((truth - 1.0 / truth.shape[1]) ** 2))
        truth = truth_frame[list(prediction.columns)].to_numpy()
        return float(np.mean((prediction.to_numpy() - truth) ** 2))

    return score
