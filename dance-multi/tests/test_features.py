from __future__ import annotations

import numpy as np

from dance.core import load_dataset
from dance.core.testing import synthetic_data
from dance.multi.features import gene_activity, load_gene_table, modality_kind, modality_reduction


def test_modality_kinds_of_real_data():
    cite = load_dataset("bmmc_cite", "joint_embedding")
    multiome = load_dataset("bmmc_multiome", "joint_embedding")
    assert (modality_kind(cite.mod1), modality_kind(cite.mod2), modality_kind(multiome.mod2)) == ("gex", "adt", "atac")


def test_gene_activity_sums_promoter_peaks():
    data = synthetic_data("multiomics_integration")
    activity = gene_activity(data.mod2, load_gene_table())
    # every synthetic RNA gene has exactly one promoter peak, so activity equals that peak's counts
    shared = [g for g in data.mod1.var_names if g in activity.var_names]
    assert len(shared) >= 70
    gene = shared[0]
    peak = list(data.mod1.var_names).index(gene)
    assert np.allclose(activity[:, gene].X.toarray().ravel(), data.mod2.X[:, peak])


def test_reduction_uses_lsi_for_peaks():
    atac = load_dataset("bmmc_multiome", "joint_embedding").mod2
    modality_reduction(atac, n_comps=10)
    assert atac.obsm["X_reduced"].shape == (500, 10) and atac.uns["X_reduced_kind"] == "atac"
