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
