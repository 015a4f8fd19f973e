from __future__ import annotations

import pytest

from dance.core import run
from dance.core.errors import DanceInputError


@pytest.mark.slow
def test_geneactivity_pca_on_paired_multiome(tmp_path):
    # only 37 of the starter's 600 genes have a peak in its 600 peaks: a weak but real baseline
    result = run("multiomics_integration", "geneactivity_pca", "bmmc_multiome", out=tmp_path)
    assert result.metrics["foscttm"] < 0.5
    assert result.notes["shared_genes"] > 20


@pytest.mark.slow
def test_geneactivity_pca_on_snareseq_reads_the_peaks_build(shared_data_env):
    """SNARE-seq's peaks are mm10 (uns['genome']): with the mm10 annotation 1,635 of its 1,677 genes
    get an activity; measured FOSCTTM 0.253 and label transfer 0.38 (seed 0, 2026-12-07), where the
    GRCh38 table it used before matched almost none of these mouse genes."""
    result = run("multiomics_integration", "geneactivity_pca", "snareseq_chen2019", write=False)
    assert result.notes["annotation"] == "mm10" and result.notes["shared_genes"] > 1_500
    assert result.metrics["foscttm"] < 0.3 and result.metrics["label_transfer_accuracy"] > 0.3
    with pytest.raises(DanceInputError, match="with the GRCh38 annotation"):
        run("multiomics_integration", "geneactivity_pca", "snareseq_chen2019", params={"annotation": "GRCh38"}, write=False)
