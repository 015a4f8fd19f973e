from __future__ import annotations

import pytest

from dance.core import run


@pytest.mark.slow
def test_geneactivity_pca_on_paired_multiome(tmp_path):
    # only 37 of the starter's 600 genes have a peak in its 600 peaks: a weak but real baseline
    result = run("multiomics_integration", "geneactivity_pca", "bmmc_multiome", out=tmp_path)
    assert result.metrics["foscttm"] < 0.5
    assert result.notes["shared_genes"] > 20
