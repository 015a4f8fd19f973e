from __future__ import annotations

import pytest

from dance.core import run


@pytest.mark.slow
def test_combat_mixes_kang_conditions_better_than_uncorrected_pca(shared_data_env, tmp_path):
    combat = run("batch_integration", "combat", "kang_pbmc_stim", out=tmp_path / "combat")
    pca = run("batch_integration", "pca", "kang_pbmc_stim", out=tmp_path / "pca")
    assert combat.metrics["asw_batch"] > pca.metrics["asw_batch"]


@pytest.mark.slow
def test_integration_on_bmmc_reports_scib_scores(tmp_path):
    result = run("batch_integration", "combat", "bmmc_cite_gex", out=tmp_path)
    assert {"nmi", "ari", "asw_label", "asw_batch", "graph_connectivity", "overall"} <= set(result.metrics)
    assert 0.5 < result.metrics["overall"] < 1
