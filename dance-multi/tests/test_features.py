from __future__ import annotations

import numpy as np

from dance.core import load_dataset
from dance.core.testing import synthetic_data
from dance.multi.features import gene_activity, load_gene_table, modality_reduction
from dance.multi.modality_kinds import modality_kind


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


def test_most_variable_counts_keeps_overdispersed_features_and_drops_rare_ones():
    import pytest
    import scipy.sparse as sp

    from dance.core.errors import DanceInputError
    from dance.multi.features import most_variable_counts

    rng = np.random.default_rng(0)
    means = rng.lognormal(1.0, 1.0, size=200)
    counts = rng.poisson(means, size=(300, 200)).astype(np.float32)
    # features 0-4: Poisson-like depth but over-dispersed (a cell type's marker); 199: two counts in all
    counts[:, :5] = rng.negative_binomial(1, 1 / (1 + means[:5]), size=(300, 5))
    counts[:, 199] = 0
    counts[:2, 199] = 1
    chosen = most_variable_counts(sp.csr_matrix(counts), 5)
    assert chosen.tolist() == [0, 1, 2, 3, 4]
    kept = most_variable_counts(counts, 500)
    assert 199 not in kept and len(kept) == 199
    with pytest.raises(DanceInputError, match="mod2: every feature has zero counts"):
        most_variable_counts(np.zeros((5, 3)), 2, role="mod2")


def test_top_accessible_peaks_are_the_peaks_open_in_most_cells():
    import scipy.sparse as sp

    from dance.multi.features import top_accessible_peaks

    binary = sp.csr_matrix(np.array([[1, 0, 1, 1], [1, 0, 0, 1], [0, 1, 0, 1]], dtype=np.float32))
    assert top_accessible_peaks(binary, 2).tolist() == [0, 3]
    assert top_accessible_peaks(binary, 10).tolist() == [0, 1, 2, 3]


def test_peaks_above_percentile_follows_signacs_ecdf_rule():
    """Signac: percentile = ecdf(count)(count), kept when >= min.cutoff; ties share the higher rank."""
    import scipy.sparse as sp

    from dance.multi.features import peaks_above_percentile

    totals = np.array([5, 1, 3, 3, 8, 0, 2, 7])
    counts = sp.csr_matrix(np.vstack([totals, np.zeros_like(totals)]).astype(np.float32))
    ecdf = np.array([(totals <= t).mean() for t in totals])
    assert peaks_above_percentile(counts, 0.75).tolist() == np.flatnonzero(ecdf >= 0.75).tolist() == [0, 4, 7]
    assert peaks_above_percentile(counts, 0.0).tolist() == list(range(8))


def test_default_epochs_are_the_users_else_shorter_with_peaks():
    from dance.multi.modality_kinds import default_epochs

    assert default_epochs(None, ("gex", "adt"), usual=100, with_peaks=10) == 100
    assert default_epochs(None, ("atac", "gex"), usual=100, with_peaks=10) == 10
    assert default_epochs(None, ("gex", "atac"), usual=100, with_peaks=10) == 10
    assert default_epochs(7, ("gex", "atac"), usual=100, with_peaks=10) == 7
