"""Loaders of dance-single's datasets: ``loader(files, task)`` -> the task's input.

``files`` maps each file's relative path (as in its :class:`~dance.core.specs.DataFile`) to a
verified local path. Loaders put labels in ``obs['cell_type']``, batches in ``obs['batch']`` and
raw counts in ``X`` or ``layers['counts']``; annotation splits in ``obs['split']``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from dance.core.data.readers import read_h5ad, read_labelled_h5
from dance.core.errors import DanceInputError
from dance.core.transforms.representation import EMBEDDING_UNS_KEY


def _only(files: dict[str, Path]) -> Path:
    (path,) = files.values()
    return path


def _for_task(adata: ad.AnnData, task: str) -> ad.AnnData:
    """For imputation: RNA counts only, without genes that have no counts in any cell (the task
    refuses them: there is nothing to hold out or score) and without embeddings or other
    modalities in ``obsm``."""
    if task != "imputation":
        return adata
    counts = adata.layers.get("counts", adata.X)
    detected = np.asarray((counts != 0).sum(axis=0)).ravel() > 0
    out = adata[:, detected].copy() if not detected.all() else adata
    for key in list(out.obsm.keys()):
        del out.obsm[key]
    return out


def load_labelled_h5(files: dict[str, Path], task: str) -> ad.AnnData:
    """scDCC / scDeepCluster HDF5 (``X`` counts, ``Y`` integer labels)."""
    return _for_task(read_labelled_h5(_only(files)), task)


def load_rna_counts_h5ad(files: dict[str, Path], task: str) -> ad.AnnData:
    """The RNA counts (``X``) of a paired multi-omics set with its cell types and batches;
    cell types ``undefined`` / ``unmatched`` (PBMC 10k) are unknown labels."""
    path = next(p for rel, p in files.items() if rel.endswith("_rna.h5ad"))
    adata = read_h5ad(path)
    adata.X = sp.csr_matrix(adata.X, dtype=np.float32)
    adata.obs = adata.obs[[c for c in ("cell_type", "batch") if c in adata.obs.columns]].copy()
    labels = adata.obs["cell_type"].astype(object)
    adata.obs["cell_type"] = pd.Categorical(labels.where(~labels.isin(["undefined", "unmatched"])).to_numpy())
    if "batch" in adata.obs.columns:
        adata.obs["batch"] = adata.obs["batch"].astype(str).astype("category")
    adata.uns = {}
    return _for_task(adata, task)


def load_10x_h5_counts(files: dict[str, Path], task: str) -> ad.AnnData:
    """A Cell Ranger ``filtered_feature_bc_matrix.h5``: gene-expression counts, no labels."""
    from dance.core.data.tenx import read_10x_h5

    adata = read_10x_h5(_only(files))
    adata.X = sp.csr_matrix(adata.X, dtype=np.float32)
    return _for_task(adata, task)


_KLEIN_DAY = re.compile(r"_ES_(d\d+)_")


def load_klein_es(files: dict[str, Path], task: str) -> ad.AnnData:
    """Klein et al. 2015 inDrop mouse ES cells (GEO GSE65525): one genes x cells count CSV per
    day (no header, gene names in the first column), stacked; ``obs['cell_type']`` is the day
    after LIF withdrawal (``d0``, ``d2``, ``d4``, ``d7``)."""
    frames, days = [], []
    for rel, path in sorted(files.items()):
        match = _KLEIN_DAY.search(rel)
        if not match:
            raise DanceInputError(f"unexpected GSE65525 file name {rel}; expected GSM..._ES_d<day>_....csv(.bz2)", field=rel)
        try:
            table = pd.read_csv(path, header=None, index_col=0)
        except Exception as exc:
            raise DanceInputError(f"{path} is not a readable GSE65525 count CSV ({type(exc).__name__}: {exc})", field=str(path)) from exc
        table.index = pd.Index(table.index.astype(str).to_numpy())
        table.columns = [f"{match.group(1)}_{i}" for i in range(table.shape[1])]
        frames.append(table)
        days.extend([match.group(1)] * table.shape[1])
    genes = frames[0].index
    if any(not f.index.equals(genes) for f in frames[1:]):
        raise DanceInputError("the GSE65525 day files do not list the same genes in the same order", field="files")
    matrix = sp.csr_matrix(np.hstack([f.to_numpy(np.float32) for f in frames]).T)
    obs = pd.DataFrame(index=[c for f in frames for c in f.columns])
    obs["cell_type"] = pd.Categorical(days)
    adata = ad.AnnData(X=matrix, obs=obs, var=pd.DataFrame(index=genes))
    adata.var_names_make_unique()
    return _for_task(adata, task)


def load_bmmc_gex(files: dict[str, Path], task: str) -> ad.AnnData:
    """BMMC CITE-seq GEX; annotation splits by donor (train s1d1, test s1d2)."""
    adata = read_h5ad(_only(files))
    adata.obs["cell_type"] = adata.obs["cell_type"].astype(str).astype("category")
    adata.obs["batch"] = adata.obs["batch"].astype(str).astype("category")
    if task == "cell_type_annotation":
        adata.obs["split"] = pd.Categorical(np.where(adata.obs["batch"] == "s1d1", "train", "test"), categories=["train", "test"])
    return adata


def load_pbmc68k_reduced(files: dict[str, Path], task: str) -> ad.AnnData:
    """scanpy's pbmc68k_reduced, with its log-normalised ``.raw`` as ``X`` and bulk labels as cell types."""
    full = read_h5ad(_only(files))
    raw = full.raw
    adata = ad.AnnData(X=sp.csr_matrix(raw.X, dtype=np.float32), obs=full.obs[[]].copy(), var=raw.var[[]].copy())
    adata.obs["cell_type"] = full.obs["bulk_labels"].astype(str).astype("category")
    return adata


def load_kang(files: dict[str, Path], task: str) -> ad.AnnData:
    """Kang 2018 control/stimulated PBMCs; the condition is the batch."""
    adata = read_h5ad(_only(files))
    adata.obs["batch"] = adata.obs["condition"].astype(str).astype("category")
    return adata


def _embedding_adata(pcs: np.ndarray, obs: pd.DataFrame) -> ad.AnnData:
    """An AnnData whose X and obsm['X_pca'] are the given PCs, declared as an embedding."""
    pcs = np.ascontiguousarray(pcs, dtype=np.float32)
    adata = ad.AnnData(X=pcs.copy(), obs=obs, var=pd.DataFrame(index=[f"PC{i + 1}" for i in range(pcs.shape[1])]))
    adata.obsm["X_pca"] = pcs
    adata.uns[EMBEDDING_UNS_KEY] = "X_pca"  # declares X / obsm['X_pca'] an embedding
    return adata


def load_harmonypy_pbmc(files: dict[str, Path], task: str) -> ad.AnnData:
    """harmonypy's PBMC test data: 30 PCs and the donor (the batch) of 3,500 cells."""
    pcs_path = next(p for rel, p in files.items() if rel.endswith("_pcs.tsv.gz"))
    meta_path = next(p for rel, p in files.items() if rel.endswith("_meta.tsv.gz"))
    pcs = pd.read_csv(pcs_path, sep="\t")
    meta = pd.read_csv(meta_path, sep="\t")
    if len(pcs) != len(meta) or "donor" not in meta.columns:
        raise DanceInputError(f"{pcs_path} and {meta_path} do not describe the same cells with a donor column", field=str(meta_path))
    obs = pd.DataFrame(index=(meta["donor"].astype(str) + "_" + meta["cell"].astype(str)).to_numpy())
    obs["batch"] = pd.Categorical(meta["donor"].astype(str).to_numpy())
    return _embedding_adata(pcs.to_numpy(), obs)


def load_harmony_cell_lines(files: dict[str, Path], task: str) -> ad.AnnData:
    """Harmony's cell-line data: 20 PCs; batch = experiment (jurkat, t293, half); cell type = cell line."""
    source = read_h5ad(_only(files))
    obs = pd.DataFrame(index=source.obs["cell_id"].astype(str).to_numpy())
    obs["batch"] = pd.Categorical(source.obs["dataset"].astype(str).to_numpy())
    obs["cell_type"] = pd.Categorical(source.obs["cell_type"].astype(str).to_numpy())
    x = source.X.toarray() if sp.issparse(source.X) else np.asarray(source.X)
    return _embedding_adata(x, obs)


_MCA_NAME = re.compile(r"^mca/(train|test)/(?P<stem>.+)_(data|celltype)\.csv$")


def _read_mca_pair(data_path: Path, label_path: Path, prefix: str) -> tuple[pd.DataFrame, pd.Series]:
    try:
        counts = pd.read_csv(data_path, index_col=0)  # genes x cells
        labels = pd.read_csv(label_path, index_col=0)
    except Exception as exc:
        raise DanceInputError(
            f"{data_path} / {label_path} are not readable MCA CSV files ({type(exc).__name__}: {exc})", field=str(data_path)
        ) from exc
    if "Cell_type" not in labels.columns:
        raise DanceInputError(f"{label_path} has no Cell_type column (columns: {list(labels.columns)})", field=str(label_path))
    cells = counts.columns.astype(str)
    label_index = labels.index.astype(str)
    if set(label_index) == set(cells):
        cell_types = labels["Cell_type"].set_axis(label_index).loc[cells]
    elif len(labels) == len(cells):  # DANCE pairs them by position
        cell_types = labels["Cell_type"].set_axis(cells)
    else:
        raise DanceInputError(f"{label_path} lists {len(labels)} cells but {data_path} has {len(cells)}", field=str(label_path))
    frame = counts.T
    frame.index = [f"{prefix}_{c}" for c in cells]
    cell_types.index = frame.index
    return frame, cell_types.astype(str)


def load_mca(files: dict[str, Path], task: str) -> ad.AnnData:
    """Mouse Cell Atlas sets in DANCE's layout: training sets concatenated, the test set aligned
    to the training genes (absent genes are zero), ``obs['split']`` train/test.

    Test cell types that never occur in training are kept as they are: each model decides how to
    treat cells of unseen types (see the docs of the annotation models).
    """
    pairs: dict[tuple[str, str], dict[str, Path]] = defaultdict(dict)
    for rel, path in files.items():
        match = _MCA_NAME.match(rel)
        if not match:
            raise DanceInputError(f"unexpected MCA file name {rel}", field=rel)
        pairs[(match.group(1), match.group("stem"))][rel.rsplit("_", 1)[1].removesuffix(".csv")] = path
    parts: dict[str, list[tuple[pd.DataFrame, pd.Series]]] = {"train": [], "test": []}
    for (split, stem), pair in sorted(pairs.items()):
        parts[split].append(_read_mca_pair(pair["data"], pair["celltype"], stem))
    train = pd.concat([f for f, _ in parts["train"]]).fillna(0)
    genes = train.columns
    test = pd.concat([f.reindex(columns=genes, fill_value=0) for f, _ in parts["test"]]).fillna(0)
    matrix = sp.csr_matrix(np.vstack([train.to_numpy(np.float32), test.to_numpy(np.float32)]))
    obs = pd.DataFrame(index=list(train.index) + list(test.index))
    obs["cell_type"] = pd.Categorical(pd.concat([s for _, s in parts["train"]] + [s for _, s in parts["test"]]).to_numpy())
    obs["split"] = pd.Categorical(["train"] * len(train) + ["test"] * len(test), categories=["train", "test"])
    return ad.AnnData(X=matrix, obs=obs, var=pd.DataFrame(index=genes.astype(str)))
