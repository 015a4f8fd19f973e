"""Conservation of a biological signal of the expression in an embedding: the cell cycle and
trajectories (scIB's ``cell_cycle`` and ``trajectory_conservation``; Luecken et al. 2022, Nat
Methods 19:41-50), as the NeurIPS 2021 joint-embedding task scored them (``cc_cons`` and
``ti_cons_batch_mean``; Lance et al. 2022, PMLR 176:162).

Both need something of the data besides the embedding -- cell-cycle genes among the expressed
features, a pseudotime of the cells -- and raise :class:`MetricNotComputableError` with the reason when
the data do not have it, so the result says why the metric is absent instead of reporting 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from dance.core.errors import MetricNotComputableError

__all__ = [
    "G2M_GENES",
    "S_GENES",
    "cell_cycle_conservation",
    "cell_cycle_scores",
    "continuous_pc_regression",
    "trajectory_conservation",
]

#: S-phase genes of Tirosh et al. (2016) Science 352:189: Seurat's ``cc.genes.updated.2019`` and
#: the older symbols it replaced (MCM2, MLF1IP, RPA2, BRIP1), so data annotated either way match
S_GENES = [
    "MCM5",
    "PCNA",
    "TYMS",
    "FEN1",
    "MCM7",
    "MCM4",
    "RRM1",
    "UNG",
    "GINS2",
    "MCM6",
    "CDCA7",
    "DTL",
    "PRIM1",
    "UHRF1",
    "CENPU",
    "HELLS",
    "RFC2",
    "POLR1B",
    "NASP",
    "RAD51AP1",
    "GMNN",
    "WDR76",
    "SLBP",
    "CCNE2",
    "UBR7",
    "POLD3",
    "MSH2",
    "ATAD2",
    "RAD51",
    "RRM2",
    "CDC45",
    "CDC6",
    "EXO1",
    "TIPIN",
    "DSCC1",
    "BLM",
    "CASP8AP2",
    "USP1",
    "CLSPN",
    "POLA1",
    "CHAF1B",
    "MRPL36",
    "E2F8",
    "MCM2",
    "MLF1IP",
    "RPA2",
    "BRIP1",
]
#: G2/M-phase genes of the same list (with the older symbols FAM64A and HN1)
G2M_GENES = [
    "HMGB2",
    "CDK1",
    "NUSAP1",
    "UBE2C",
    "BIRC5",
    "TPX2",
    "TOP2A",
    "NDC80",
    "CKS2",
    "NUF2",
    "CKS1B",
    "MKI67",
    "TMPO",
    "CENPF",
    "TACC3",
    "PIMREG",
    "SMC4",
    "CCNB2",
    "CKAP2L",
    "CKAP2",
    "AURKB",
    "BUB1",
    "KIF11",
    "ANP32E",
    "TUBB4B",
    "GTSE1",
    "KIF20B",
    "HJURP",
    "CDCA3",
    "JPT1",
    "CDC20",
    "TTK",
    "CDC25C",
    "KIF2C",
    "RANGAP1",
    "NCAPD2",
    "DLGAP5",
    "CDCA2",
    "CDCA8",
    "ECT2",
    "KIF23",
    "HMMR",
    "AURKA",
    "PSRC1",
    "ANLN",
    "LBR",
    "CKAP5",
    "CENPE",
    "CTCF",
    "NEK2",
    "G2E3",
    "GAS2L3",
    "CBX5",
    "CENPA",
    "FAM64A",
    "HN1",
]
#: fewer genes of either phase than this among the features and the scores mean nothing
MIN_PHASE_GENES = 5


def _dense(x: Any) -> np.ndarray:
    return np.asarray(x.toarray() if sp.issparse(x) else x, dtype=np.float64)


def cell_cycle_scores(expression: Any, genes: Any, *, seed: int = 0) -> np.ndarray:
    """``(cells, 2)`` S and G2/M scores of log-normalised ``expression`` (Tirosh genes, matched
    to ``genes`` case-insensitively so mouse symbols match too; scanpy's
    ``score_genes_cell_cycle``, as scIB scores them)."""
    import anndata as ad
    import pandas as pd
    import scanpy as sc

    names = pd.Index([str(g) for g in genes])
    upper = pd.Series(names.str.upper(), index=names)
    found = {
        phase: [names[i] for i in np.flatnonzero(upper.isin(listed).to_numpy())] for phase, listed in (("S", S_GENES), ("G2M", G2M_GENES))
    }
    if min(len(found["S"]), len(found["G2M"])) < MIN_PHASE_GENES:
        raise MetricNotComputableError(
            f"only {len(found['S'])} S-phase and {len(found['G2M'])} G2/M-phase genes of Tirosh et al. (2016) are among the "
            f"{len(names)} expressed features (at least {MIN_PHASE_GENES} of each are needed to score the cell cycle)"
        )
    adata = ad.AnnData(X=sp.csr_matrix(expression, dtype=np.float32) if sp.issparse(expression) else np.asarray(expression, np.float32))
    adata.var_names = names
    adata.var_names_make_unique()
    sc.tl.score_genes_cell_cycle(adata, s_genes=found["S"], g2m_genes=found["G2M"], random_state=seed)
    return adata.obs[["S_score", "G2M_score"]].to_numpy(dtype=np.float64)


def continuous_pc_regression(x: Any, covariates: Any, *, n_comps: int = 50, seed: int = 0) -> float:
    """Variance of ``x`` explained by continuous covariates (scIB's ``pc_regression``):
    ``sum_i R2_i var_i / sum_i var_i`` over the top ``n_comps`` principal components, ``R2_i``
    of the least-squares regression of PC ``i`` on the covariates and an intercept."""
    from sklearn.decomposition import PCA

    x = _dense(x)
    n = int(min(n_comps, x.shape[0] - 1, x.shape[1]))
    solver = "full" if min(x.shape) <= 2 * n + 10 else "arpack"
    pca = PCA(n_components=n, svd_solver=solver, random_state=seed)
    components = pca.fit_transform(x)
    design = np.column_stack([np.ones(x.shape[0]), np.asarray(covariates, dtype=np.float64)])
    coefficients, *_ = np.linalg.lstsq(design, components, rcond=None)
    residual = ((components - design @ coefficients) ** 2).sum(axis=0)
    total = ((components - components.mean(axis=0)) ** 2).sum(axis=0)
    r2 = np.where(total > 0, 1.0 - residual / np.where(total > 0, total, 1.0), 0.0)
    variance = pca.explained_variance_
    return float((r2 * variance).sum() / variance.sum()) if variance.sum() > 0 else 0.0


def cell_cycle_conservation(
    embedding: Any, expression: Any, genes: Any, batch: Any | None = None, *, n_comps: int = 50, seed: int = 0
) -> float:
    """scIB's cell-cycle conservation: per batch, the variance of the expression explained by the
    S and G2/M scores (principal component regression) before (``expression``) and after
    (``embedding``); ``1 - |after - before| / before`` clipped at 0, averaged over batches."""
    scores = cell_cycle_scores(expression, genes, seed=seed)
    batch = np.zeros(len(scores), dtype=int) if batch is None else np.asarray(batch).astype(str)
    values = []
    for group in np.unique(batch):
        cells = np.flatnonzero(batch == group)
        if len(cells) < 3:
            continue
        rows = expression[cells]
        before = continuous_pc_regression(rows, scores[cells], n_comps=n_comps, seed=seed)
        after = continuous_pc_regression(np.asarray(embedding)[cells], scores[cells], n_comps=n_comps, seed=seed)
        if before <= 0:
            continue
        values.append(max(0.0, 1.0 - abs(after - before) / before))
    if not values:
        raise MetricNotComputableError("the cell-cycle scores explain none of the expression's variance in any batch")
    return float(np.mean(values))


def trajectory_conservation(
    embedding: Any, pseudotime: Any, labels: Any, batch: Any | None = None, *, n_neighbors: int = 15, seed: int = 0
) -> float:
    """scIB's trajectory conservation: diffusion pseudotime (DPT) on the embedding's kNN graph,
    rooted in the cell type with the lowest mean true pseudotime, compared with the true
    pseudotime by Spearman correlation, rescaled to ``(rho + 1) / 2`` and averaged over batches.
    Cells without a pseudotime (NaN) are left out."""
    import anndata as ad
    import scanpy as sc
    from scipy.stats import spearmanr

    pseudotime = np.asarray(pseudotime, dtype=np.float64)
    on_path = np.isfinite(pseudotime)
    if on_path.sum() < 10:
        raise MetricNotComputableError(f"only {int(on_path.sum())} cells have a pseudotime")
    emb = np.asarray(embedding, dtype=np.float32)[on_path]
    labels = np.asarray(labels).astype(str)[on_path]
    pseudotime = pseudotime[on_path]
    batch = np.zeros(len(emb), dtype=str) if batch is None else np.asarray(batch).astype(str)[on_path]
    from dance.core.neighbors import knn_graph_matrices

    adata = ad.AnnData(X=np.zeros((len(emb), 1), dtype=np.float32))
    k = int(min(n_neighbors, len(emb) - 1))
    # the kNN graph of scanpy's neighbors (UMAP connectivities), from dance's one kNN search
    distances, connectivities = knn_graph_matrices(emb, n_neighbors=k, seed=seed)
    adata.obsp["distances"], adata.obsp["connectivities"] = distances, connectivities
    adata.uns["neighbors"] = {
        "connectivities_key": "connectivities",
        "distances_key": "distances",
        "params": {"n_neighbors": k, "method": "umap", "random_state": seed},
    }
    sc.tl.diffmap(adata, random_state=seed)
    # root: within the cell type earliest in the true pseudotime, the cell at the extreme of the
    # diffusion component that best separates that type (scIB's get_root)
    types = np.unique(labels)
    start = types[np.argmin([pseudotime[labels == t].mean() for t in types])]
    diffmap = adata.obsm["X_diffmap"][:, 1:]
    in_start = labels == start
    separation = (
        np.abs(diffmap[in_start].mean(axis=0) - diffmap[~in_start].mean(axis=0)) if (~in_start).any() else np.ones(diffmap.shape[1])
    )
    component = int(np.argmax(separation))
    values = diffmap[:, component]
    extreme = np.argmin(values[in_start]) if values[in_start].mean() < values[~in_start].mean() else np.argmax(values[in_start])
    adata.uns["iroot"] = int(np.flatnonzero(in_start)[extreme])
    sc.tl.dpt(adata)
    dpt = adata.obs["dpt_pseudotime"].to_numpy(dtype=np.float64)
    scores = []
    for group in np.unique(batch):
        cells = (batch == group) & np.isfinite(dpt)
        if cells.sum() < 3:
            continue
        rho = spearmanr(pseudotime[cells], dpt[cells]).statistic
        if np.isfinite(rho):
            scores.append((rho + 1) / 2)
    if not scores:
        raise MetricNotComputableError("diffusion pseudotime reached too few cells to compare with the true pseudotime")
    return float(np.mean(scores))
