from __future__ import annotations

import numpy as np
import pytest

from dance.core import load_dataset, registry
from dance.core.containers import SpotsAndReference


def test_mouse_olfactory_bulb_has_five_layers_and_two_unannotated_spots():
    adata = load_dataset("mouse_olfactory_bulb", "spatial_domain")
    assert adata.obs["layer"].nunique() == 5 and adata.obs["layer"].isna().sum() == 2
    assert registry.get_dataset("mouse_olfactory_bulb").keys == {"label_key": "layer"}


def test_cerebellum_pseudospots_are_reproducible_and_hold_out_their_cells():
    first = load_dataset("cerebellum_pseudospots", "cell_type_deconvolution")
    second = load_dataset("cerebellum_pseudospots", "cell_type_deconvolution")
    assert isinstance(first, SpotsAndReference) and first.spots.n_obs == 300
    assert np.allclose(first.spots.obsm["proportions"].to_numpy(), second.spots.obsm["proportions"].to_numpy())
    assert np.allclose(first.spots.obsm["proportions"].sum(axis=1), 1)
    assert 200 < first.reference.n_obs < 300  # the other half of the 475 cells


@pytest.mark.parametrize("name", ["dstg_synthetic", "rctd_merfish", "rctd_visium_testes", "rctd_cerebellum_slideseq"])
def test_deconvolution_sets(name, shared_data_env):
    data = load_dataset(name, "cell_type_deconvolution")
    assert len(data.spots.var_names.intersection(data.reference.var_names)) > 50


@pytest.mark.parametrize("name", ["card_pdac", "visium_tiny"])
def test_unannotated_spatial_sets(name, shared_data_env):
    adata = load_dataset(name, "spatial_domain")
    assert adata.obsm["spatial"].shape == (adata.n_obs, 2)
