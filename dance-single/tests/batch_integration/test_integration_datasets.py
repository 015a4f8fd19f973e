"""The PC-only integration datasets and how models take them as embeddings."""

from __future__ import annotations

import numpy as np

from dance.core import load_dataset, registry
from dance.core.keys import DataKeys


def test_harmonypy_pbmc_3500_is_an_embedding_with_three_donors(shared_data_env):
    adata = load_dataset("harmonypy_pbmc_3500", "batch_integration")
    assert adata.shape == (3500, 30) and adata.obs_names.is_unique
    assert adata.uns["dance_embedding"] == "X_pca"
    np.testing.assert_array_equal(adata.X, adata.obsm["X_pca"])
    assert adata.obs["batch"].value_counts().to_dict() == {"B": 2000, "C": 1000, "A": 500}
    assert "cell_type" not in adata.obs


def test_harmony_cell_lines_has_three_experiments_and_two_lines(shared_data_env):
    adata = load_dataset("harmony_cell_lines", "batch_integration")
    assert adata.shape == (2370, 20) and adata.uns["dance_embedding"] == "X_pca"
    assert sorted(adata.obs["batch"].unique()) == ["half", "jurkat", "t293"]
    assert sorted(adata.obs["cell_type"].unique()) == ["jurkat", "t293"]
    # the pure experiments hold one line each
    assert set(adata.obs.loc[adata.obs["batch"] == "jurkat", "cell_type"]) == {"jurkat"}


def test_the_contract_passes_the_declared_embedding_as_use_rep(shared_data_env):
    adata = load_dataset("harmony_cell_lines", "batch_integration")
    contract = registry.contract("batch_integration")
    harmony = registry.load_model("harmony", "batch_integration")
    params, notes = contract.suggest_params(harmony, adata, DataKeys(), {})
    assert params == {"use_rep": "X_pca"} and "use_rep" in notes
    # an explicit choice is kept, and models without the parameter are left alone
    assert contract.suggest_params(harmony, adata, DataKeys(), {"use_rep": "X_other"})[0] == {"use_rep": "X_other"}
    scvi = registry.load_model("scvi", "batch_integration")
    assert "use_rep" not in contract.suggest_params(scvi, adata, DataKeys(), {})[0]
    # the truth's unintegrated embedding is the declared one
    _, truth = contract.holdout(adata, DataKeys(), seed=0)
    np.testing.assert_array_equal(truth.unintegrated, adata.obsm["X_pca"])
