"""OpenProblems-style solution files merged into the input (--solution)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from dance.core.containers import Modalities
from dance.core.data.inputs import resolve_input
from dance.core.data.solutions import merge_solution, pairing_partners
from dance.core.errors import DanceInputError
from dance.core.keys import DataKeys
from dance.core.testing import synthetic_data

KEYS = DataKeys()
CHALLENGE = "multimodal/openproblems_bmmc"


def dense(matrix):
    return matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)


# ---------------------------------------------------------------------- joint embedding
def joint_inputs():
    data = synthetic_data("joint_embedding")
    labels = data.mod1.obs["cell_type"].copy()
    for adata in (data.mod1, data.mod2):
        del adata.obs["cell_type"]
    order = np.random.default_rng(0).permutation(data.mod1.n_obs)  # the solution lists cells in its own order
    solution = ad.AnnData(
        obs=pd.DataFrame({"cell_type": labels.to_numpy()[order], "batch": "s1", "pseudotime": 0.5}, index=data.mod1.obs_names[order])
    )
    return data, solution, labels


def test_joint_embedding_labels_are_joined_by_cell_name():
    data, solution, labels = joint_inputs()
    merged, notes = merge_solution("joint_embedding", data, solution, KEYS, source="sol.h5ad")
    assert list(merged.mod1.obs["cell_type"].astype(str)) == list(labels.astype(str))
    assert merged.mod1.obs["batch"].eq("s1").all()  # mod1 had no batch: an input, taken
    assert "pseudotime" not in merged.mod1.obs.columns  # truth the hold-out would not hide: not joined
    assert "not used: pseudotime" in notes["solution"]
    assert "cell_type" not in data.mod1.obs.columns  # the user's objects are untouched


def test_joint_embedding_solution_with_other_cells_is_refused():
    data, solution, _ = joint_inputs()
    with pytest.raises(DanceInputError, match=r"must hold the cells of rna: 10 of the 150 cells of rna are not in it") as info:
        merge_solution("joint_embedding", data, solution[10:].copy(), KEYS, source="the solution")
    assert info.value.field == "solution.obs_names"
    other = solution.copy()
    other.obs_names = [f"x{i}" for i in range(other.n_obs)]
    with pytest.raises(DanceInputError, match=r"150 of its cells are not in rna"):
        merge_solution("joint_embedding", data, other, KEYS)


def test_joint_embedding_solution_without_labels_names_the_option():
    data, solution, _ = joint_inputs()
    with pytest.raises(DanceInputError, match=r"no obs\['celltype'\].*cell_type.*--label-key"):
        merge_solution("joint_embedding", data, solution, DataKeys(label_key="celltype"))


# ---------------------------------------------------------------------- modality prediction
def prediction_inputs(with_split: bool):
    data = synthetic_data("modality_prediction")
    full_mod2 = data.mod2
    mod1 = data.mod1.copy()
    if with_split:
        mod1.obs["split"] = pd.Categorical(["train"] * 100 + ["test"] * 50)
    rng = np.random.default_rng(1)
    train_mod2 = full_mod2[:100].copy()
    # the solution lists test cells and features in its own order
    solution = full_mod2[100:][rng.permutation(50)][:, rng.permutation(full_mod2.n_vars)].copy()
    return Modalities(mod1, train_mod2, ("rna", "adt")), solution, full_mod2


@pytest.mark.parametrize("with_split", [True, False])
def test_prediction_solution_completes_mod2_for_every_cell(with_split):
    data, solution, full_mod2 = prediction_inputs(with_split)
    merged, notes = merge_solution("modality_prediction", data, solution, KEYS, source="sol")
    assert list(merged.mod2.obs_names) == list(merged.mod1.obs_names)
    assert list(merged.mod2.var_names) == list(full_mod2.var_names)
    assert np.allclose(dense(merged.mod2.X), dense(full_mod2.X))
    assert list(merged.mod1.obs["split"].astype(str)) == ["train"] * 100 + ["test"] * 50
    assert ("split" in notes) is (not with_split)
    assert data.mod2.n_obs == 100 and ("split" in data.mod1.obs.columns) is with_split  # inputs untouched


def test_prediction_solution_with_other_features_is_refused():
    data, solution, _ = prediction_inputs(True)
    solution = solution[:, 2:].copy()
    with pytest.raises(DanceInputError, match=r"with the features of adt: 2 of adt's 12 features are not in it") as info:
        merge_solution("modality_prediction", data, solution, KEYS)
    assert info.value.field == "solution.var_names"


def test_prediction_solution_overlapping_the_training_cells_is_refused():
    data, _, full_mod2 = prediction_inputs(True)
    with pytest.raises(DanceInputError, match=r"100 cell\(s\) are both in adt \(the training cells\) and in the solution"):
        merge_solution("modality_prediction", data, full_mod2.copy(), KEYS, source="the solution")


def test_prediction_solution_lacking_test_cells_is_refused():
    data, solution, _ = prediction_inputs(True)
    with pytest.raises(DanceInputError, match=r"lacks 5 of the 50 test cells of rna"):
        merge_solution("modality_prediction", data, solution[5:].copy(), KEYS, source="the solution")


def test_prediction_without_split_needs_every_cell_somewhere():
    data, solution, _ = prediction_inputs(False)
    with pytest.raises(DanceInputError, match=r"5 cell\(s\) of rna are neither in adt \(training cells\) nor in the solution"):
        merge_solution("modality_prediction", data, solution[5:].copy(), KEYS, source="the solution")


def test_prediction_solution_with_cells_not_in_mod1_is_refused():
    data, solution, _ = prediction_inputs(True)
    solution.obs_names = [f"stranger_{i}" for i in range(solution.n_obs)]
    with pytest.raises(DanceInputError, match=r"50 cell\(s\) of the solution are not cells of rna"):
        merge_solution("modality_prediction", data, solution, KEYS, source="the solution")


# ---------------------------------------------------------------------- modality matching
def matching_inputs():
    """The challenge form: both modalities with a split; mod2's test rows shuffled and renamed."""
    data = synthetic_data("modality_matching")
    split = pd.Categorical(["train"] * 100 + ["test"] * 50)
    mod1 = data.mod1.copy()
    mod1.obs["split"] = split
    order = np.random.default_rng(2).permutation(50)  # test row j of mod2 is mod1's test cell order[j]
    test2 = data.mod2[100:][order].copy()
    test2.obs_names = [str(j) for j in range(50)]
    mod2 = ad.concat([data.mod2[:100].copy(), test2])
    mod2.obs["split"] = split
    pairing = np.zeros((50, 50), dtype=np.float32)
    pairing[order, np.arange(50)] = 1.0
    solution = ad.AnnData(X=sp.csc_matrix(pairing), obs=pd.DataFrame(index=mod1.obs_names[100:]), var=pd.DataFrame(index=test2.obs_names))
    return Modalities(mod1, mod2, ("rna", "adt")), solution, data.mod2


def test_matching_solution_aligns_the_test_rows_of_mod2():
    data, solution, paired_mod2 = matching_inputs()
    assert not data.paired
    merged, notes = merge_solution("modality_matching", data, solution, KEYS, source="sol")
    assert merged.paired and np.allclose(dense(merged.mod2.X), dense(paired_mod2.X))
    assert "50 test pairs" in notes["solution"]
    # rows and columns of the solution may come in any order: they are matched by name
    shuffled = solution[::-1, ::-1].copy()
    again, _ = merge_solution("modality_matching", data, shuffled, KEYS)
    assert np.allclose(dense(again.mod2.X), dense(paired_mod2.X))


def test_matching_pairing_that_is_not_one_to_one_is_refused():
    data, solution, _ = matching_inputs()
    pairing = dense(solution.X)
    pairing[:, 0] = pairing[:, 1]  # the mod1 cell paired with column 0 loses it; the one paired with column 1 gets two
    broken = ad.AnnData(X=pairing, obs=solution.obs, var=solution.var)
    with pytest.raises(
        DanceInputError, match=r"not a one-to-one pairing: 1 of its rna test cells have no partner; 1 of its rna test cells have several"
    ) as info:
        merge_solution("modality_matching", data, broken, KEYS, source="the solution")
    assert info.value.field == "solution.X"


def test_matching_solution_of_the_wrong_shape_or_names_is_refused():
    data, solution, _ = matching_inputs()
    with pytest.raises(DanceInputError, match=r"has shape \(49, 50\); expected the pairing of the test cells.*\(50, 50\)"):
        merge_solution("modality_matching", data, solution[1:].copy(), KEYS, source="the solution")
    renamed = solution.copy()
    renamed.var_names = [f"cell{j}" for j in range(50)]
    with pytest.raises(DanceInputError, match=r"columns \(var_names\) must be the test cells of adt: 50 of them") as info:
        merge_solution("modality_matching", data, renamed, KEYS, source="the solution")
    assert info.value.field == "solution.var_names"


def test_matching_solution_needs_the_split_of_both_modalities():
    data, solution, _ = matching_inputs()
    del data.mod2.obs["split"]
    with pytest.raises(
        DanceInputError, match=r"mod2.obs\['split'\] is missing: with --solution, matching takes the challenge form"
    ) as info:
        merge_solution("modality_matching", data, solution, KEYS)
    assert info.value.field == "mod2.obs['split']"


def test_pairing_partners():
    assert list(pairing_partners(np.eye(3)[[2, 0, 1]])) == [2, 0, 1]
    with pytest.raises(DanceInputError, match="square"):
        pairing_partners(np.ones((2, 3)))
    with pytest.raises(DanceInputError, match="negative"):
        pairing_partners(-np.eye(2))


# ---------------------------------------------------------------------- the challenge's own files
def challenge_part(shared_data, task: str, part: str, dataset: str = "cite") -> ad.AnnData:
    return ad.read_h5ad(shared_data / CHALLENGE / task / f"openproblems_bmmc_{dataset}_starter.{part}.h5ad")


def test_challenge_match_modality_solution_pairs_the_cells_the_common_files_pair(shared_data, make_registry, tmp_path):
    """Concatenated as a user would; the pairing recovered must be the one of the paired ("common") files."""
    parts = {
        p: challenge_part(shared_data, "match_modality", p) for p in ("train_mod1", "train_mod2", "train_sol", "test_mod1", "test_mod2")
    }
    train2 = parts["train_mod2"][np.asarray(parts["train_sol"].X.argmax(axis=1)).ravel()].copy()
    train2.obs_names = parts["train_mod1"].obs_names
    split = pd.Categorical(["train"] * parts["train_mod1"].n_obs + ["test"] * parts["test_mod1"].n_obs)
    mod1 = ad.concat([parts["train_mod1"], parts["test_mod1"]], merge="first")
    mod2 = ad.concat([train2, parts["test_mod2"]], merge="first")
    mod1.obs["split"], mod2.obs["split"] = split, split
    mod1.write_h5ad(tmp_path / "mod1.h5ad")
    mod2.write_h5ad(tmp_path / "mod2.h5ad")
    solution = shared_data / CHALLENGE / "match_modality" / "openproblems_bmmc_cite_starter.test_sol.h5ad"

    registry = make_registry()
    resolved = resolve_input(
        registry.get_task("modality_matching"),
        str(tmp_path / "mod1.h5ad"),
        data2=str(tmp_path / "mod2.h5ad"),
        solution=str(solution),
        registry=registry,
    )
    data = resolved.data
    assert data.paired and data.mod1.n_obs == 600 and solution in resolved.files
    common = ad.read_h5ad(shared_data / CHALLENGE / "common" / "openproblems_bmmc_cite_starter.output_mod2.h5ad")
    test = data.mod1.obs_names[(data.mod1.obs["split"] == "test").to_numpy()]
    assert np.allclose(dense(data.mod2[test].layers["counts"]), dense(common[test].layers["counts"]))


def test_challenge_predict_modality_solution_gives_every_cell_its_proteins(shared_data, make_registry, tmp_path):
    mod1 = ad.concat([challenge_part(shared_data, "predict_modality", p) for p in ("train_mod1", "test_mod1")], merge="first")
    mod1.write_h5ad(tmp_path / "mod1.h5ad")  # no split column: the cells of --data2 are the training cells
    folder = shared_data / CHALLENGE / "predict_modality"
    registry = make_registry()
    resolved = resolve_input(
        registry.get_task("modality_prediction"),
        str(tmp_path / "mod1.h5ad"),
        data2=str(folder / "openproblems_bmmc_cite_starter.train_mod2.h5ad"),
        solution=str(folder / "openproblems_bmmc_cite_starter.test_mod2.h5ad"),
        registry=registry,
    )
    data = resolved.data
    assert data.paired and (data.mod1.obs["split"] == "test").sum() == 289
    test_mod2 = challenge_part(shared_data, "predict_modality", "test_mod2")
    assert np.allclose(dense(data.mod2[test_mod2.obs_names].X), dense(test_mod2.X))


def test_challenge_joint_embedding_solution_labels_every_cell(shared_data, make_registry):
    folder = shared_data / CHALLENGE / "joint_embedding"
    registry = make_registry()
    resolved = resolve_input(
        registry.get_task("joint_embedding"),
        str(folder / "openproblems_bmmc_cite_starter.mod1.h5ad"),
        data2=str(folder / "openproblems_bmmc_cite_starter.mod2.h5ad"),
        solution=str(folder / "openproblems_bmmc_cite_starter.solution.h5ad"),
        registry=registry,
    )
    labels = resolved.data.mod1.obs["cell_type"]
    assert labels.notna().all() and labels.nunique() == 41
    assert "cell_type" not in resolved.data.mod2.obs.columns


def test_joint_embedding_solution_pseudotimes_are_joined_hidden_and_scored():
    from dance.core import registry

    data, solution, _ = joint_inputs()
    solution.obs["pseudotime_order_GEX"] = np.linspace(0, 1, solution.n_obs)
    merged, notes = merge_solution("joint_embedding", data, solution, KEYS, source="sol.h5ad")
    assert "pseudotime_order_GEX" in merged.mod1.obs.columns and "'pseudotime_order_GEX'" in notes["solution"]
    view, truth = registry.contract("joint_embedding").holdout(merged, KEYS, seed=0)
    assert "pseudotime_order_GEX" not in view.mod1.obs.columns and "cell_type" not in view.mod1.obs.columns
    assert set(truth.pseudotimes) == {"pseudotime_order_GEX"}
