"""Loaders of dance-multi's datasets: ``loader(files, task)`` -> :class:`Modalities`.

Labels go to ``mod1.obs['cell_type']``, batches to ``obs['batch']``; prediction and matching
sets get ``mod1.obs['split']`` (train/test) when the source defines one.
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from dance.core.containers import Modalities
from dance.core.data.readers import read_h5ad, read_h5mu_modalities, read_labelled_h5
from dance.core.data.solutions import pairing_partners
from dance.core.errors import DanceInputError
from dance.multi.scales import apply_challenge_scale

SPLIT_TASKS = ("modality_prediction", "modality_matching")


def _file(files: dict[str, Path], suffix: str) -> Path:
    matches = [p for rel, p in files.items() if rel.endswith(suffix)]
    if len(matches) != 1:
        raise DanceInputError(f"expected one file ending in {suffix}, found {len(matches)}", field=suffix)
    return matches[0]


def _split_from_is_train(adata: ad.AnnData, task: str) -> None:
    if task in SPLIT_TASKS and "is_train" in adata.obs.columns:
        adata.obs["split"] = pd.Categorical(np.where(adata.obs["is_train"].astype(bool), "train", "test"), categories=["train", "test"])


def _categorical(adata: ad.AnnData, *columns: str) -> None:
    for column in columns:
        if column in adata.obs.columns:
            adata.obs[column] = adata.obs[column].astype(str).astype("category")


def _paired(rna: ad.AnnData, other: ad.AnnData, task: str, names: tuple[str, str]) -> Modalities:
    _categorical(rna, "cell_type", "batch")
    _split_from_is_train(rna, task)
    other = other[rna.obs_names].copy()
    other.obs = other.obs[[c for c in ("batch",) if c in other.obs.columns]].copy()
    return Modalities(rna, other, names)


def load_bmmc_cite(files: dict[str, Path], task: str) -> Modalities:
    """BMMC CITE-seq (common layout): RNA and protein of the same cells."""
    return _paired(read_h5ad(_file(files, "output_rna.h5ad")), read_h5ad(_file(files, "output_mod2.h5ad")), task, ("rna", "adt"))


def load_bmmc_multiome(files: dict[str, Path], task: str) -> Modalities:
    """BMMC Multiome: RNA and ATAC peaks of the same cells (peak counts in X and layers['counts'])."""
    rna = read_h5ad(_file(files, "output_rna.h5ad"))
    atac = read_h5ad(_file(files, "output_mod2.h5ad"))
    data = _paired(rna, atac, task, ("rna", "atac"))
    if task == "multiomics_integration":  # labels of mod2 are kept as truth; the contract hides them
        data.mod2.obs["cell_type"] = data.mod1.obs["cell_type"].to_numpy()
    return data


def load_neurips_predict(files: dict[str, Path], task: str) -> Modalities:
    """The challenge's predict-modality files, concatenated with obs['split']."""
    parts = {key: read_h5ad(_file(files, f".{key}.h5ad")) for key in ("train_mod1", "train_mod2", "test_mod1", "test_mod2")}
    mod1 = ad.concat([parts["train_mod1"], parts["test_mod1"]], merge="first")
    mod2 = ad.concat([parts["train_mod2"], parts["test_mod2"]], merge="first")
    mod1.obs["split"] = pd.Categorical(
        ["train"] * parts["train_mod1"].n_obs + ["test"] * parts["test_mod1"].n_obs, categories=["train", "test"]
    )
    return Modalities(mod1, mod2[mod1.obs_names].copy(), ("rna", "adt"))


def _aligned(mod2: ad.AnnData, solution: ad.AnnData, mod1: ad.AnnData) -> ad.AnnData:
    if solution.shape != (mod1.n_obs, mod2.n_obs):
        raise DanceInputError(
            f"solution matrix of shape {solution.shape} is not a pairing of {mod1.n_obs} x {mod2.n_obs} cells", field="sol"
        )
    # the same one-to-one check as `dance run --solution` (every row and column paired once)
    partners = pairing_partners(solution.X, rows="mod1 cells", columns="mod2 cells", source="the solution matrix")
    aligned = mod2[partners].copy()
    aligned.obs_names = mod1.obs_names
    return aligned


def load_neurips_match(files: dict[str, Path], task: str) -> Modalities:
    """The challenge's match-modality files; mod2 rows aligned to mod1 through the solution matrices."""
    blocks1, blocks2, split = [], [], []
    for part in ("train", "test"):
        mod1 = read_h5ad(_file(files, f".{part}_mod1.h5ad"))
        mod2 = _aligned(read_h5ad(_file(files, f".{part}_mod2.h5ad")), read_h5ad(_file(files, f".{part}_sol.h5ad")), mod1)
        blocks1.append(mod1)
        blocks2.append(mod2)
        split += [part] * mod1.n_obs
    mod1 = ad.concat(blocks1, merge="first")
    mod2 = ad.concat(blocks2, merge="first")
    mod1.obs["split"] = pd.Categorical(split, categories=["train", "test"])
    return Modalities(mod1, mod2, ("rna", "adt"))


def load_neurips_joint(files: dict[str, Path], task: str) -> Modalities:
    """The challenge's joint-embedding files; cell types from the solution."""
    mod1 = read_h5ad(_file(files, ".mod1.h5ad"))
    mod2 = read_h5ad(_file(files, ".mod2.h5ad"))
    solution = read_h5ad(_file(files, ".solution.h5ad"))
    mod1.obs["cell_type"] = pd.Categorical(solution.obs.loc[mod1.obs_names, "cell_type"].astype(str))
    # the solution's pseudotimes (and cell-cycle scores when present) are truth for ti_cons / cc_cons
    for column in solution.obs.columns:
        if column.startswith("pseudotime_order_") or column in ("S_score", "G2M_score"):
            mod1.obs[column] = solution.obs.loc[mod1.obs_names, column].to_numpy(dtype=np.float64)
    return Modalities(mod1, mod2[mod1.obs_names].copy(), ("rna", "adt"))


def _clr(counts: np.ndarray) -> np.ndarray:
    logged = np.log1p(counts)
    return (logged - logged.mean(axis=1, keepdims=True)).astype(np.float32)


def load_cbmc_paired(files: dict[str, Path], task: str) -> Modalities:
    """CBMC CITE-seq: RNA on the challenge's scale (log1p(counts / size factor), counts in
    layers['counts']) and the 10 proteins as scDCC provides them (already normalised, not counts:
    values are centred log ratios scaled per protein, so they cannot be put on the CLR scale)."""
    rna = read_labelled_h5(next(iter(files.values())))
    apply_challenge_scale(rna, "gex")
    adt = ad.AnnData(X=rna.obsm.pop("ADT_X").astype(np.float32), obs=pd.DataFrame(index=rna.obs_names))
    adt.var_names = [f"protein_{i}" for i in range(adt.n_vars)]
    adt.var["feature_types"] = "ADT"
    return Modalities(rna, adt, ("rna", "adt"))


def load_citefuse(files: dict[str, Path], task: str) -> Modalities:
    """CiteFuse ECCITE-seq: RNA and ADT counts; proteins CLR-normalised into X."""
    data = read_h5mu_modalities(next(iter(files.values())), "RNA", "ADT")
    adt = data.mod2
    counts = adt.X.toarray() if sp.issparse(adt.X) else np.asarray(adt.X)
    adt.layers["counts"] = counts.astype(np.float32)
    adt.X = _clr(counts)
    adt.var["feature_types"] = "ADT"
    return Modalities(data.mod1, adt, ("rna", "adt"))


def load_snareseq(files: dict[str, Path], task: str) -> Modalities:
    """SCOT's SNARE-seq features: RNA and ATAC of the same cells (same order), cell-line labels."""
    rna = np.load(_file(files, "SNAREseq_rna_feat.npy"))
    atac = np.load(_file(files, "SNAREseq_atac_feat.npy"))
    labels = np.loadtxt(_file(files, "SNAREseq_rna_types.txt"), dtype=int)
    metadata = pd.read_csv(_file(files, "SNAREseq_metadata.txt"), sep="\t")
    names = dict(zip(metadata["LabelID"], metadata["CellType"], strict=False))
    barcodes = (
        metadata["Barcode"].astype(str).to_numpy()
        if len(metadata) == rna.shape[0]
        else np.array([f"cell_{i}" for i in range(rna.shape[0])])
    )
    cell_types = pd.Categorical([names.get(v, str(v)) for v in labels])

    def make(x: np.ndarray, prefix: str) -> ad.AnnData:
        adata = ad.AnnData(X=x.astype(np.float32), obs=pd.DataFrame(index=barcodes))
        adata.var_names = [f"{prefix}_{j}" for j in range(x.shape[1])]
        adata.obs["cell_type"] = cell_types
        return adata

    return Modalities(make(rna, "rna_feature"), make(atac, "atac_feature"), ("rna", "atac"))


#: the SNARE-seq libraries held out as test cells for prediction and matching (about a quarter of
#: the cells), as the challenge held out donors: a batch shift between training and test cells
SNARESEQ_TEST_BATCHES = ("09J", "09K", "09L")


def _split_by_batch(adata: ad.AnnData, test_batches: tuple[str, ...], task: str) -> None:
    if task in SPLIT_TASKS:
        test = adata.obs["batch"].astype(str).isin(test_batches).to_numpy()
        adata.obs["split"] = pd.Categorical(np.where(test, "test", "train"), categories=["train", "test"])


def load_snareseq_chen2019(files: dict[str, Path], task: str) -> Modalities:
    """SNARE-seq mouse cortex (Chen et al. 2019): RNA and ATAC of the same cells on the challenge's
    scales (expression log1p(counts / size factor), peaks binarised; counts in layers['counts']),
    cell types and library batches in ``mod1.obs``; libraries 09J-09L are the test cells."""
    rna = read_h5ad(_file(files, "_rna.h5ad"))
    atac = read_h5ad(_file(files, "_atac.h5ad"))
    rna.var["feature_types"] = "GEX"
    atac.var["feature_types"] = "ATAC"
    apply_challenge_scale(rna, "gex")
    apply_challenge_scale(atac, "atac")
    rna.obs = rna.obs[["cell_type", "cell_type_coarse", "batch"]].copy()
    _categorical(rna, "cell_type", "cell_type_coarse", "batch")
    _split_by_batch(rna, SNARESEQ_TEST_BATCHES, task)
    return _paired(rna, atac, task, ("rna", "atac"))


def load_cite_pbmc10k(files: dict[str, Path], task: str) -> Modalities:
    """10x PBMC 10k CITE-seq: RNA and 14 proteins of the same cells on the challenge's scales
    (expression log1p(counts / size factor), proteins CLR; counts in layers['counts']). One batch:
    the task draws a seeded split."""
    rna = read_h5ad(_file(files, "_rna.h5ad"))
    adt = read_h5ad(_file(files, "_adt.h5ad"))
    rna.var["feature_types"] = "GEX"
    adt.var["feature_types"] = "ADT"
    apply_challenge_scale(rna, "gex")
    apply_challenge_scale(adt, "adt")
    rna.obs = rna.obs[["cell_type", "cell_type_l2", "batch"]].copy()
    _categorical(rna, "cell_type", "cell_type_l2", "batch")
    return _paired(rna, adt, task, ("rna", "adt"))
