from __future__ import annotations

import numpy as np

from dance.core.testing import synthetic_data
from dance.spatial.pseudospots import dstg_pseudospots, split_reference


def test_pseudospot_counts_are_sums_of_their_cells_and_proportions_match():
    cells = synthetic_data("cell_type_annotation")
    spots = dstg_pseudospots(cells, n_spots=50, seed=1)
    assert spots.obs["n_cells"].between(2, 8).all()
    total_cells = float(np.asarray(cells.X).sum(axis=1).mean())
    per_cell = np.asarray(spots.X.sum(axis=1)).ravel() / spots.obs["n_cells"].to_numpy()
    assert 0.5 * total_cells < per_cell.mean() < 2 * total_cells
    fractions = spots.obsm["proportions"].to_numpy() * spots.obs["n_cells"].to_numpy()[:, None]
    assert np.allclose(fractions, np.round(fractions))


def test_split_keeps_every_pooled_type_in_the_reference():
    cells = synthetic_data("cell_type_annotation")
    pool, reference = split_reference(cells, seed=0)
    assert set(pool.obs["cell_type"]) <= set(reference.obs["cell_type"])
    assert not set(pool.obs_names) & set(reference.obs_names)
