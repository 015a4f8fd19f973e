"""Tiny synthetic datasets, one per task, with real structure a model can learn.

Counts follow a negative binomial (gamma-Poisson) model with three cell groups that each
up-regulate their own marker genes, varying library sizes, and (for batch integration) a
multiplicative batch effect. They are small (about 150 cells x 80 genes) so the contract checks
of every model run in seconds; they check behaviour, not accuracy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["synthetic_data"]

GROUPS = ("type_a", "type_b", "type_c")

#: 80 real human chr1 protein-coding genes (GENCODE v48, GRCh38) and their TSS, so synthetic
#: multi-omics data have gene symbols and promoter peaks that gene-activity methods can link.
CHR1_GENES: tuple[tuple[str, int, str], ...] = (
    ("OR4F5", 65418, "+"),
    ("SCNN1D", 1280435, "+"),
    ("MIB2", 1615453, "+"),
    ("TNFRSF14", 2555638, "+"),
    ("CHD5", 6180320, "-"),
    ("PER3", 7784290, "+"),
    ("NMNAT1", 9943427, "+"),
    ("FBXO2", 11655784, "-"),
    ("AADACL3", 12716109, "+"),
    ("PRAMEF5", 13254197, "+"),
    ("AGMAT", 15585050, "-"),
    ("SPATA21", 16437423, "-"),
    ("IFFO2", 18956675, "-"),
    ("PLA2G2F", 20139322, "+"),
    ("HSPG2", 21937309, "-"),
    ("E2F2", 23531232, "-"),
    ("SRRM1", 24631715, "+"),
    ("PDIK1L", 26111164, "+"),
    ("SFN", 26863148, "+"),
    ("FAM76A", 27725960, "+"),
    ("OPRD1", 28812169, "+"),
    ("SPOCD1", 31816021, "-"),
    ("ZBTB8OS", 32650902, "-"),
    ("SMIM12", 34859754, "-"),
    ("TEKT2", 36084093, "+"),
    ("AIRIM", 37692248, "-"),
    ("PABPC4", 39576789, "-"),
    ("ZNF684", 40531572, "+"),
    ("CLDN19", 42740253, "-"),
    ("PTPRF", 43525186, "+"),
    ("PLK3", 44800376, "+"),
    ("IPP", 45750652, "-"),
    ("EFCAB14", 46719145, "-"),
    ("CDKN2C", 50960744, "+"),
    ("ZYG11A", 52842510, "+"),
    ("CYB5RL", 54200035, "-"),
    ("C8B", 56974382, "-"),
    ("FOXD3", 63322566, "+"),
    ("C1orf141", 67231852, "-"),
    ("FPGT", 74198237, "+"),
    ("FUBP1", 77979109, "-"),
    ("MCOLN3", 85048499, "-"),
    ("GBP3", 89022893, "-"),
    ("C1orf146", 92217914, "+"),
    ("CNN3", 94927222, "-"),
    ("CDC14A", 100325628, "+"),
    ("NBPF6", 108450281, "+"),
    ("SYPL2", 109466545, "+"),
    ("KCNC4", 110210313, "+"),
    ("TMIGD3", 111563961, "-"),
    ("BCL2L15", 113887580, "-"),
    ("SLC22A15", 115976512, "+"),
    ("HSD3B1", 119507197, "+"),
    ("FAM72D", 145095973, "+"),
    ("NOTCH2NLA", 146229040, "-"),
    ("PPIAL4C", 149583847, "+"),
    ("ANP32E", 150236155, "-"),
    ("CERS2", 150975002, "-"),
    ("SELENBP1", 151372706, "-"),
    ("RPTN", 152159227, "-"),
    ("LCE1E", 152786213, "+"),
    ("LELP1", 153203429, "+"),
    ("SNAPIN", 153658702, "+"),
    ("ATP8B2", 154325524, "+"),
    ("EFNA4-EFNA3", 155063747, "+"),
    ("YY1AP1", 155689333, "-"),
    ("SMG5", 156282824, "-"),
    ("PRCC", 156750609, "+"),
    ("CD1B", 158331530, "-"),
    ("AIM2", 159187842, "-"),
    ("KCNJ9", 160081537, "+"),
    ("ITLN2", 160954808, "-"),
    ("PCP4L1", 161258744, "+"),
    ("UAP1", 162561721, "+"),
    ("GPA33", 167166478, "-"),
    ("CCDC181", 169460668, "-"),
    ("MYOC", 171652687, "-"),
    ("RABGAP1L", 174159409, "+"),
    ("SOAT1", 179293713, "+"),
    ("RGSL1", 182409191, "+"),
)


def _profiles(n_genes: int, rng: np.random.Generator, n_groups: int = 3) -> np.ndarray:
    base = rng.gamma(shape=0.8, scale=1.0, size=n_genes) + 0.05
    profiles = np.tile(base, (n_groups, 1))
    markers = np.array_split(rng.permutation(n_genes)[: n_groups * max(3, n_genes // 8)], n_groups)
    for g, genes in enumerate(markers):
        profiles[g, genes] *= 6.0
    return profiles / profiles.sum(axis=1, keepdims=True)


def _counts(
    groups: np.ndarray, profiles: np.ndarray, rng: np.random.Generator, depth: float = 800.0, dispersion: float = 5.0
) -> np.ndarray:
    library = rng.lognormal(mean=np.log(depth), sigma=0.3, size=len(groups))
    mean = profiles[groups] * library[:, None]
    rate = rng.gamma(shape=dispersion, scale=mean / dispersion)
    return rng.poisson(rate).astype(np.float32)


def _adata(x: np.ndarray, groups: np.ndarray, prefix: str = "cell", gene_prefix: str = "gene") -> Any:
    import anndata as ad

    adata = ad.AnnData(X=x)
    adata.obs_names = [f"{prefix}_{i}" for i in range(x.shape[0])]
    adata.var_names = [f"{gene_prefix}_{j}" for j in range(x.shape[1])]
    adata.obs["cell_type"] = pd.Categorical(np.array(GROUPS)[groups])
    return adata


def synthetic_data(task: str, *, seed: int = 0, n_cells: int = 150, n_genes: int = 80) -> Any:
    """A small input for ``task`` with the conventional keys (``cell_type``, ``batch``, ...)."""
    from dance.core.containers import Modalities, SpotsAndReference

    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(3), int(np.ceil(n_cells / 3)))[:n_cells]
    groups = rng.permutation(groups)
    profiles = _profiles(n_genes, rng)

    if task in ("cell_type_annotation", "clustering", "imputation"):
        return _adata(_counts(groups, profiles, rng), groups)

    if task == "batch_integration":
        batch = rng.integers(0, 2, size=n_cells)
        x = _counts(groups, profiles, rng)
        effect = rng.lognormal(0.0, 0.7, size=n_genes).astype(np.float32)
        x[batch == 1] = rng.poisson(x[batch == 1] * effect).astype(np.float32)
        adata = _adata(x, groups)
        adata.obs["batch"] = pd.Categorical(np.where(batch == 1, "batch_2", "batch_1"))
        return adata

    if task in ("modality_prediction", "modality_matching", "joint_embedding"):
        rna = _adata(_counts(groups, profiles, rng), groups)
        n_proteins = 12
        loadings = rng.normal(0, 1.5, size=(3, n_proteins))
        latent = rng.normal(0, 0.3, size=(n_cells, 1))
        protein = loadings[groups] + latent + rng.normal(0, 0.3, size=(n_cells, n_proteins))
        # antibody counts around each cell's protein levels; X holds their per-cell CLR (Seurat),
        # as CITE-seq data usually come
        counts = rng.poisson(np.exp(2.0 + 0.8 * protein)).astype(np.float32)
        geometric = np.exp(np.log1p(counts).mean(axis=1, keepdims=True))
        adt = _adata(np.log1p(counts / geometric).astype(np.float32), groups, gene_prefix="protein")
        adt.layers["counts"] = counts
        if task != "joint_embedding":
            del adt.obs["cell_type"]
        return Modalities(rna, adt, ("rna", "adt"))

    if task == "multiomics_integration":
        # RNA of 80 real chr1 genes; ATAC with one promoter peak per gene (accessibility follows
        # the same group profiles as expression) plus 40 distal peaks of background.
        n_rna = min(n_genes, len(CHR1_GENES))
        genes = CHR1_GENES[:n_rna]
        profiles = _profiles(n_rna, rng)
        rna = _adata(_counts(groups, profiles, rng), groups)
        rna.var_names = [g for g, _, _ in genes]
        promoter = np.minimum(_counts(groups, profiles, rng, depth=250.0), 4.0)
        background = np.minimum(_counts(groups, _profiles(40, rng), rng, depth=60.0), 4.0)
        peaks = [f"chr1-{max(tss - 300, 0)}-{tss + 200}" for _, tss, _ in genes]
        peaks += [f"chr1-{200_000_000 + 10_000 * j}-{200_000_000 + 10_000 * j + 500}" for j in range(background.shape[1])]
        atac = _adata(np.hstack([promoter, background]), groups, gene_prefix="peak")
        atac.var_names = peaks
        return Modalities(rna, atac, ("rna", "atac"))

    if task == "spatial_domain":
        side = int(np.ceil(np.sqrt(n_cells)))
        xs, ys = np.meshgrid(np.arange(side), np.arange(side))
        coords = np.column_stack([xs.ravel(), ys.ravel()])[:n_cells].astype(np.float64)
        domains = np.minimum((coords[:, 0] * 3 // side).astype(int), 2)
        adata = _adata(_counts(domains, profiles, rng), domains, prefix="spot")
        adata.obsm["spatial"] = coords
        return adata

    if task == "cell_type_deconvolution":
        reference = _adata(_counts(groups, profiles, rng), groups)
        n_spots = 60
        proportions = rng.dirichlet(np.ones(3) * 0.7, size=n_spots)
        cells_per_spot = 10
        spots = np.zeros((n_spots, n_genes), dtype=np.float32)
        for s in range(n_spots):
            members = rng.choice(3, size=cells_per_spot, p=proportions[s])
            spots[s] = _counts(members, profiles, rng).sum(axis=0)
            proportions[s] = np.bincount(members, minlength=3) / cells_per_spot
        import anndata as ad

        spot_adata = ad.AnnData(X=spots)
        spot_adata.obs_names = [f"spot_{i}" for i in range(n_spots)]
        spot_adata.var_names = list(reference.var_names)
        side = int(np.ceil(np.sqrt(n_spots)))
        spot_adata.obsm["spatial"] = np.array([[i % side, i // side] for i in range(n_spots)], dtype=np.float64)
        spot_adata.obsm["proportions"] = pd.DataFrame(proportions, index=spot_adata.obs_names, columns=list(GROUPS))
        return SpotsAndReference(spot_adata, reference)

    raise ValueError(f"no synthetic data for task '{task}'")
