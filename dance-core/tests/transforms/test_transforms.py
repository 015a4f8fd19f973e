from __future__ import annotations

import numpy as np
import pytest

from dance.core.errors import DanceInputError
from dance.core.keys import DataKeys
from dance.core.testing import synthetic_data
from dance.core.transforms import graphs, preprocessing
from dance.core.transforms.pipeline import apply_pipeline, step


def test_pipeline_works_on_a_copy():
    data = synthetic_data("clustering")
    before = data.X.copy()
    out = apply_pipeline(data, [step("log_normalize"), step("pca", n_comps=5), step("knn_graph", n_neighbors=10)], keys=DataKeys())
    assert np.array_equal(data.X, before) and "X_pca" not in data.obsm
    assert out.obsm["X_pca"].shape == (data.n_obs, 5) and out.obsp["connectivities"].shape == (data.n_obs, data.n_obs)
    assert np.allclose(out.layers["counts"], before)


def test_log_normalize_accepts_counts_and_log_data_and_refuses_scaled_data():
    keys = DataKeys()
    counts = synthetic_data("clustering")
    normalised = preprocessing.log_normalize(counts.copy(), keys=keys)
    assert np.allclose(np.expm1(normalised.X).sum(axis=1), 1e4, rtol=1e-4)
    again = preprocessing.log_normalize(normalised.copy(), keys=DataKeys(counts_layer="absent"))
    assert np.allclose(again.X, normalised.X) and "already" in again.uns["dance_log_normalize"]
    scaled = normalised.copy()
    scaled.X = scaled.X - scaled.X.mean(axis=0)
    with pytest.raises(DanceInputError, match=r"negative values.*scaled"):
        preprocessing.log_normalize(scaled, keys=DataKeys(counts_layer="absent"))


def test_spatial_graph_links_grid_neighbours():
    data = synthetic_data("spatial_domain")
    graphs.spatial_graph(data, keys=DataKeys(), method="radius")
    degree = np.asarray(data.obsp["spatial_connectivities"].sum(axis=1)).ravel()
    assert degree.max() == 4 and degree.min() >= 2  # 4-neighbourhood on a square grid
    assert (data.obsp["spatial_connectivities"] != data.obsp["spatial_connectivities"].T).nnz == 0


def test_cell_gene_graph_rows_sum_to_one():
    data = synthetic_data("clustering")
    graphs.cell_gene_graph(data, keys=DataKeys())
    assert np.allclose(data.layers["cell_gene_weight"].sum(axis=1), 1)


def test_lsi_drops_the_depth_component():
    data = synthetic_data("multiomics_integration").mod2
    preprocessing.lsi(data, n_comps=10)
    assert data.obsm["X_lsi"].shape == (data.n_obs, 10)
