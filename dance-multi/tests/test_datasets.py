from __future__ import annotations

import numpy as np
import pytest

from dance.core import load_dataset
from dance.core.containers import Modalities


@pytest.mark.parametrize(
    "name, task, shapes",
    [
        ("bmmc_cite", "modality_prediction", ((600, 1000), (600, 134))),
        ("bmmc_multiome", "multiomics_integration", ((500, 600), (500, 600))),
        ("snareseq_chen2019_subset", "multiomics_integration", ((3000, 1677), (3000, 10000))),
    ],
)
def test_embedded_datasets(name, task, shapes):
    data = load_dataset(name, task)
    assert isinstance(data, Modalities) and (data.mod1.shape, data.mod2.shape) == shapes


@pytest.mark.parametrize(
    "name, task, n_obs",
    [
        ("neurips_cite_predict", "modality_prediction", 600),
        ("neurips_cite_match", "modality_matching", 600),
        ("neurips_cite_joint", "joint_embedding", 600),
        ("cbmc_cite_paired", "joint_embedding", 8617),
        ("citefuse_eccite", "joint_embedding", 500),
        ("snareseq_scot", "multiomics_integration", 1047),
    ],
)
def test_local_datasets(name, task, n_obs, shared_data_env):
    data = load_dataset(name, task)
    assert data.mod1.n_obs == n_obs and data.paired


def test_challenge_matching_files_align_to_the_same_cells_as_the_paired_release(shared_data_env):
    """The solution matrices must pair exactly the cells that the paired ("common") files pair."""
    challenge = load_dataset("neurips_cite_match", "modality_matching")
    common = load_dataset("bmmc_cite", "modality_matching")
    proteins = common.mod2[challenge.mod1.obs_names].layers["counts"]
    aligned = challenge.mod2.layers["counts"]
    as_dense = lambda m: m.toarray() if hasattr(m, "toarray") else np.asarray(m)  # noqa: E731
    assert np.allclose(as_dense(proteins), as_dense(aligned))


def test_prediction_split_follows_the_challenge():
    data = load_dataset("bmmc_cite", "modality_prediction")
    assert (data.mod1.obs["split"] == "train").sum() == 311 and (
        data.mod1.obs.loc[data.mod1.obs["split"] == "train", "batch"] == "s1d1"
    ).all()


@pytest.mark.parametrize(
    "name, shapes, scale",
    [
        ("cite_pbmc10k", ((6661, 1000), (6661, 14)), "CLR (Seurat, per cell)"),
        ("snareseq_chen2019", ((10309, 1677), (10309, 25734)), "binarised"),
    ],
)
def test_new_paired_datasets_are_on_the_challenge_scales(name, shapes, scale, shared_data_env):
    from dance.multi.scales import log_normalise

    data = load_dataset(name, "modality_prediction")
    assert (data.mod1.shape, data.mod2.shape) == shapes and data.paired
    assert data.mod2.uns["scale"] == scale and "counts" in data.mod2.layers
    expected, _ = log_normalise(data.mod1.layers["counts"])
    assert np.allclose(data.mod1.X[:200].toarray(), expected[:200].toarray())
    assert {"cell_type", "batch"} <= set(data.mod1.obs.columns)


def test_snareseq_holds_out_whole_libraries(shared_data_env):
    from dance.multi.loaders import SNARESEQ_TEST_BATCHES

    data = load_dataset("snareseq_chen2019", "modality_matching")
    test = (data.mod1.obs["split"] == "test").to_numpy()
    assert set(data.mod1.obs["batch"][test].astype(str)) == set(SNARESEQ_TEST_BATCHES)
    assert not set(data.mod1.obs["batch"][~test].astype(str)) & set(SNARESEQ_TEST_BATCHES)
    assert test.sum() == 2465


def test_a_dataset_pair_can_be_oriented_the_other_way(shared_data_env):
    from dance.core.data.inputs import orient_modalities
    from dance.core.errors import DanceInputError

    data = load_dataset("cite_pbmc10k", "modality_prediction")
    swapped = orient_modalities(data, ("adt", "rna"), source="dataset 'cite_pbmc10k'")
    assert swapped.names == ("adt", "rna") and swapped.mod1.n_vars == 14 and swapped.mod2.n_vars == 1000
    assert (swapped.mod1.obs["cell_type"] == data.mod1.obs["cell_type"]).all()  # annotations move with the role
    assert orient_modalities(data, ("rna", None), source="x") is data
    with pytest.raises(DanceInputError, match="--mod1 'atac': dataset 'cite_pbmc10k' has the modalities rna, adt"):
        orient_modalities(data, ("atac", None), source="dataset 'cite_pbmc10k'")


def test_the_embedded_snareseq_subset_is_the_scripts_selection_of_the_full_set(shared_data_env):
    """Same cells in both modalities, every subset peak and cell in the full set with the same counts."""
    full = load_dataset("snareseq_chen2019", "multiomics_integration")
    subset = load_dataset("snareseq_chen2019_subset", "multiomics_integration")
    assert subset.paired and subset.mod2.uns["genome"] == "mm10"
    cells, peaks = subset.mod1.obs_names, subset.mod2.var_names
    original = full.mod2[cells, peaks].layers["counts"]
    assert (original != subset.mod2.layers["counts"]).nnz == 0
    # the peaks open in the most cells: none left out is open in more cells than the least open kept
    opened = np.asarray((full.mod2.layers["counts"] > 0).sum(axis=0)).ravel()
    kept = full.mod2.var_names.isin(peaks)
    assert opened[~kept].max() <= opened[kept].min()
