"""`dance run` on inputs given in parts: reference + query annotation, .h5mu modalities chosen
with --mod1/--mod2, and the NeurIPS 2021 challenge layouts with --solution."""

from __future__ import annotations

import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from support import dance, json_out, sha256
from test_bad_input import check_refused

from dance.core.testing import synthetic_data

CHALLENGE = "multimodal/openproblems_bmmc"
CITEFUSE = "multimodal/CiteFuse_CITEseq_example.h5mu"


# ---------------------------------------------------------------------- reference -> query annotation
@pytest.fixture(scope="module")
def bmmc_by_donor(tmp_path_factory):
    """The embedded BMMC gene expression set split by donor: reference s1d1, query s1d2 (with and
    without labels). The query lacks 100 of the genes, so only the shared 900 can be used."""
    from dance.core import load_dataset

    adata = load_dataset("bmmc_cite_gex", "cell_type_annotation")
    folder = tmp_path_factory.mktemp("bmmc")
    reference = adata[(adata.obs["batch"] == "s1d1").to_numpy()].copy()
    query = adata[(adata.obs["batch"] == "s1d2").to_numpy(), 100:].copy()
    for part in (reference, query):
        del part.obs["split"]
    unlabelled = query.copy()
    del unlabelled.obs["cell_type"]
    paths = {"reference": folder / "reference.h5ad", "query": folder / "query.h5ad", "unlabelled": folder / "unlabelled.h5ad"}
    reference.write_h5ad(paths["reference"])
    query.write_h5ad(paths["query"])
    unlabelled.write_h5ad(paths["unlabelled"])
    majority = float(query.obs["cell_type"].value_counts(normalize=True).iloc[0])
    return paths, {name: sha256(path) for name, path in paths.items()}, majority


@pytest.mark.slow
def test_svm_trained_on_a_reference_annotates_a_query(bmmc_by_donor, tmp_path):
    paths, digests, majority = bmmc_by_donor
    args = ("run", "cell_type_annotation", "--model", "svm", "--reference", str(paths["reference"]), "--format", "json")
    result = json_out(dance(*args, "--data", str(paths["query"]), "--out", str(tmp_path / "labelled")))
    # measured 0.381 (the same as the dataset's own cross-donor split on all 1,000 genes); 41 types,
    # the most frequent one is 17 % of the query
    assert majority < 0.2 and result["metrics"]["accuracy"] > 0.3
    assert result["notes"]["genes"].startswith("900 genes shared by the reference (1000) and the query (900) kept; 100 reference-only")
    output = ad.read_h5ad(tmp_path / "labelled" / "output.h5ad")
    query = ad.read_h5ad(paths["query"])
    assert list(output.obs_names) == list(query.obs_names) and output.n_vars == 900
    assert output.obs["svm_pred"].notna().all() and (output.obs["cell_type"].astype(str) == query.obs["cell_type"].astype(str)).all()

    unlabelled = json_out(dance(*args, "--data", str(paths["unlabelled"]), "--out", str(tmp_path / "unlabelled")))
    assert unlabelled["metrics"] == {} and "nothing is scored" in unlabelled["notes"]["metrics"]
    again = ad.read_h5ad(tmp_path / "unlabelled" / "output.h5ad")
    assert again.n_obs == query.n_obs and (again.obs["svm_pred"].to_numpy() == output.obs["svm_pred"].to_numpy()).all()
    assert {name: sha256(path) for name, path in paths.items()} == digests


def test_reference_and_query_sharing_too_few_genes(tmp_path):
    reference = synthetic_data("cell_type_annotation")
    query = reference[:40].copy()
    query.var_names = [f"ENSG{j:011d}" for j in range(query.n_vars)]
    reference.write_h5ad(tmp_path / "ref.h5ad")
    query.write_h5ad(tmp_path / "query.h5ad")
    digests = sha256(tmp_path / "ref.h5ad"), sha256(tmp_path / "query.h5ad")
    check_refused(
        dance(
            "run",
            "cell_type_annotation",
            "--reference",
            str(tmp_path / "ref.h5ad"),
            "--data",
            str(tmp_path / "query.h5ad"),
            "-o",
            str(tmp_path / "o"),
        ),
        "share 0 gene name(s); at least 50 are needed",
        "Ensembl IDs",
    )
    assert (sha256(tmp_path / "ref.h5ad"), sha256(tmp_path / "query.h5ad")) == digests


def test_reference_in_counts_and_query_normalised(tmp_path):
    reference = synthetic_data("cell_type_annotation")
    query = reference[:40].copy()
    query.X = np.log1p(query.X / query.X.sum(axis=1, keepdims=True) * 1e4)
    reference.write_h5ad(tmp_path / "ref.h5ad")
    query.write_h5ad(tmp_path / "query.h5ad")
    check_refused(
        dance(
            "run",
            "cell_type_annotation",
            "--reference",
            str(tmp_path / "ref.h5ad"),
            "--data",
            str(tmp_path / "query.h5ad"),
            "-o",
            str(tmp_path / "o"),
        ),
        "the reference (ref.h5ad) holds raw counts in X and the query (query.h5ad) holds normalised values in X",
        "same scale",
    )


# ---------------------------------------------------------------------- .h5mu modalities
@pytest.mark.slow
def test_joint_embedding_of_chosen_h5mu_modalities(shared_data, tmp_path):
    path = str(shared_data / CITEFUSE)
    default = json_out(
        dance("run", "joint_embedding", "--data", path, "--out", str(tmp_path / "default"), "--no-plots", "--format", "json")
    )
    assert default["modalities"] == ["RNA", "ADT"]
    hashtags = json_out(
        dance("run", "joint_embedding", "--data", path, "--mod2", "HTO", "--out", str(tmp_path / "hto"), "--no-plots", "--format", "json")
    )
    assert hashtags["modalities"] == ["RNA", "HTO"]
    assert json.loads((tmp_path / "hto" / "result.json").read_text())["modalities"] == ["RNA", "HTO"]
    assert ad.read_h5ad(tmp_path / "hto" / "output_mod2.h5ad").n_vars == 4
    assert default["metrics"] == {} and "nothing to score" in default["notes"]["metrics"]  # the example has no cell types


def test_unknown_modality_lists_the_file_s_modalities(shared_data):
    path = shared_data / CITEFUSE
    digest = sha256(path)
    check_refused(
        dance("run", "joint_embedding", "--data", str(path), "--mod2", "protein"), "--mod2 'protein'", "its modalities: RNA, ADT, HTO"
    )
    assert sha256(path) == digest


def test_mod1_with_two_h5ad_files(tmp_path):
    data = synthetic_data("joint_embedding")
    data.mod1.write_h5ad(tmp_path / "rna.h5ad")
    data.mod2.write_h5ad(tmp_path / "adt.h5ad")
    check_refused(
        dance("run", "joint_embedding", "--data", str(tmp_path / "rna.h5ad"), "--data2", str(tmp_path / "adt.h5ad"), "--mod1", "rna"),
        "--mod1/--mod2 choose the modalities of an .h5mu file",
    )


# ---------------------------------------------------------------------- --solution
def challenge(shared_data, task: str, part: str) -> str:
    return str(shared_data / CHALLENGE / task / f"openproblems_bmmc_cite_starter.{part}.h5ad")


def user_match_files(shared_data, folder):
    """The challenge's match-modality parts concatenated as a user would pass them: each
    modality with its train and test cells and obs['split']; training rows aligned (through
    train_sol), test rows of mod2 as the challenge gives them (shuffled, named 0, 1, ...)."""
    part = {
        p: ad.read_h5ad(challenge(shared_data, "match_modality", p))
        for p in ("train_mod1", "train_mod2", "train_sol", "test_mod1", "test_mod2")
    }
    train2 = part["train_mod2"][np.asarray(part["train_sol"].X.argmax(axis=1)).ravel()].copy()
    train2.obs_names = part["train_mod1"].obs_names
    split = pd.Categorical(["train"] * part["train_mod1"].n_obs + ["test"] * part["test_mod1"].n_obs)
    mod1 = ad.concat([part["train_mod1"], part["test_mod1"]], merge="first")
    mod2 = ad.concat([train2, part["test_mod2"]], merge="first")
    mod1.obs["split"], mod2.obs["split"] = split, split
    mod1.write_h5ad(folder / "mod1.h5ad")
    mod2.write_h5ad(folder / "mod2.h5ad")
    return folder / "mod1.h5ad", folder / "mod2.h5ad"


def metrics(*args: str) -> dict:
    return json_out(dance("run", *args, "--no-plots", "--format", "json"))["metrics"]


@pytest.mark.slow
def test_solution_files_score_exactly_as_the_paired_dataset(shared_data, tmp_path):
    """The challenge's files with --solution give the metrics of the same cells and split loaded
    as the registered paired dataset (bmmc_cite: the challenge's common files, split by donor)."""
    mod1, mod2 = user_match_files(shared_data, tmp_path)
    solution = challenge(shared_data, "match_modality", "test_sol")
    digests = sha256(mod1), sha256(mod2)
    matched = metrics("modality_matching", "--data", str(mod1), "--data2", str(mod2), "--solution", solution, "-o", str(tmp_path / "m"))
    assert matched == pytest.approx(metrics("modality_matching", "--dataset", "bmmc_cite", "-o", str(tmp_path / "md")))
    assert matched["matching_score"] > 0.01  # random matching: 1/289

    train1, test1 = (ad.read_h5ad(challenge(shared_data, "predict_modality", p)) for p in ("train_mod1", "test_mod1"))
    ad.concat([train1, test1], merge="first").write_h5ad(tmp_path / "all_mod1.h5ad")  # no split: --data2's cells train
    predicted = metrics(
        "modality_prediction",
        "--data",
        str(tmp_path / "all_mod1.h5ad"),
        "--data2",
        challenge(shared_data, "predict_modality", "train_mod2"),
        "--solution",
        challenge(shared_data, "predict_modality", "test_mod2"),
        "-o",
        str(tmp_path / "p"),
    )
    assert predicted == pytest.approx(metrics("modality_prediction", "--dataset", "bmmc_cite", "-o", str(tmp_path / "pd")), rel=1e-5)

    embedded = metrics(
        "joint_embedding",
        "--data",
        challenge(shared_data, "joint_embedding", "mod1"),
        "--data2",
        challenge(shared_data, "joint_embedding", "mod2"),
        "--solution",
        challenge(shared_data, "joint_embedding", "solution"),
        "-o",
        str(tmp_path / "j"),
    )
    assert embedded == pytest.approx(metrics("joint_embedding", "--dataset", "bmmc_cite", "-o", str(tmp_path / "jd")))
    assert embedded["ari"] > 0.4
    assert (sha256(mod1), sha256(mod2)) == digests


def test_solution_for_a_task_without_one(tmp_path):
    synthetic_data("clustering").write_h5ad(tmp_path / "x.h5ad")
    check_refused(
        dance("run", "clustering", "--data", str(tmp_path / "x.h5ad"), "--solution", str(tmp_path / "x.h5ad")),
        "--solution applies to the NeurIPS 2021 task layouts of joint_embedding, modality_prediction, modality_matching",
    )


def test_solution_that_is_not_a_one_to_one_pairing(shared_data, tmp_path):
    mod1, mod2 = user_match_files(shared_data, tmp_path)
    solution = ad.read_h5ad(challenge(shared_data, "match_modality", "test_sol"))
    pairing = solution.X.toarray()
    pairing[0] = pairing[1]  # test cell 0 takes cell 1's partner
    ad.AnnData(X=pairing, obs=solution.obs, var=solution.var).write_h5ad(tmp_path / "sol.h5ad")
    check_refused(
        dance("run", "modality_matching", "--data", str(mod1), "--data2", str(mod2), "--solution", str(tmp_path / "sol.h5ad")),
        "is not a one-to-one pairing",
        "have no partner",
    )


def test_solution_with_a_registered_dataset():
    check_refused(
        dance("run", "joint_embedding", "--dataset", "bmmc_cite", "--solution", "sol.h5ad"),
        "dataset 'bmmc_cite' already holds every input of the task; do not pass --solution",
    )


def test_modality_prediction_for_new_cells_without_their_truth(tmp_path):
    """mod2 of the training cells only: the test cells' mod2 is predicted and nothing is scored."""
    data = synthetic_data("modality_prediction")
    split = np.array(["train"] * (data.mod1.n_obs - 10) + ["test"] * 10)
    data.mod1.obs["split"] = pd.Categorical(split)
    data.mod1.write_h5ad(tmp_path / "mod1.h5ad")
    data.mod2[split == "train"].copy().write_h5ad(tmp_path / "train_mod2.h5ad")
    args = ("run", "modality_prediction", "--model", "svd_regression", "--data", str(tmp_path / "mod1.h5ad"))
    result = json_out(dance(*args, "--data2", str(tmp_path / "train_mod2.h5ad"), "--out", str(tmp_path / "o"), "--format", "json"))
    assert result["metrics"] == {} and "nothing to score" in result["notes"]["metrics"]
    predicted = ad.read_h5ad(tmp_path / "o" / "output_mod2_pred.h5ad")
    assert predicted.shape == (data.mod1.n_obs, data.mod2.n_vars) and np.isfinite(predicted.X).all()
