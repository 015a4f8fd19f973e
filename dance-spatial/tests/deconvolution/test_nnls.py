from __future__ import annotations

import pytest

from dance.core import run


@pytest.mark.slow
def test_nnls_on_pseudospots_and_dstg(shared_data_env, tmp_path):
    pseudo = run("cell_type_deconvolution", "nnls", "cerebellum_pseudospots", out=tmp_path / "a")
    dstg = run("cell_type_deconvolution", "nnls", "dstg_synthetic", out=tmp_path / "b")
    assert pseudo.metrics["mse"] < 0.02 and dstg.metrics["jsd"] < 0.05
