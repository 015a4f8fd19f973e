from __future__ import annotations

import numpy as np
import pytest

from dance.core import run
from dance.core.testing import synthetic_data
from dance.single.annotation.celltypist import CellTypist


@pytest.mark.slow
@pytest.mark.parametrize("model", ["svm", "celltypist"])
def test_cross_donor_bmmc_beats_chance_by_far(model, tmp_path):
    # 41 types, 311 training cells of donor s1d1, 289 test cells of donor s1d2 (35 of unseen types)
    result = run("cell_type_annotation", model, "bmmc_cite_gex", out=tmp_path)
    assert result.metrics["accuracy"] > 0.25


@pytest.mark.slow
def test_svm_on_pbmc68k_reduced(shared_data_env, tmp_path):
    result = run("cell_type_annotation", "svm", "pbmc68k_reduced", out=tmp_path)
    assert result.metrics["accuracy"] > 0.75


def test_celltypist_feature_selection_and_probabilities():
    data = synthetic_data("cell_type_annotation")
    model = CellTypist(top_genes=5, max_iter=50).fit(data)
    labels = model.predict(data)
    assert len(model.selected_) < data.n_vars
    proba = model.probabilities_
    assert np.allclose(proba.sum(axis=1), 1) and (proba.idxmax(axis=1).to_numpy() == labels).all()
    voted = CellTypist(top_genes=5, max_iter=50, majority_voting=True).fit(data).predict(data)
    assert len(voted) == data.n_obs and set(voted) <= set(proba.columns) | {"Heterogeneous"}
