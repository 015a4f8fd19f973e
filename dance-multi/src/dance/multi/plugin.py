"""The ``multi`` plugin: registers dance-multi's models, datasets and transforms (specs only)."""

from __future__ import annotations

from dance.core import hookimpl
from dance.core.registry import Registrar
from dance.multi.datasets import DATASETS

NEURIPS = "Lance et al. (2022) Multimodal single cell data integration challenge: results and lessons learned. PMLR 176:162-176"

# (task, name, target, summary, citation, default)
MODELS: tuple[tuple[str, str, str, str, str, bool], ...] = (
    (
        "modality_prediction",
        "svd_regression",
        "dance.multi.modality_prediction.svd_regression:SVDRegression",
        "Truncated SVD of the source modality + ridge regression (NeurIPS 2021 baseline)",
        NEURIPS,
        True,
    ),
    (
        "modality_matching",
        "svd_matching",
        "dance.multi.modality_matching.svd_matching:SVDMatching",
        "Shared SVD space + soft top-k and bipartite assignment (NeurIPS 2021 baseline)",
        NEURIPS,
        True,
    ),
    (
        "joint_embedding",
        "pca_lsi",
        "dance.multi.joint_embedding.pca_lsi:PCALSI",
        "Concatenated PCA / LSI of both modalities (NeurIPS 2021 baseline)",
        NEURIPS,
        True,
    ),
    (
        "multiomics_integration",
        "geneactivity_pca",
        "dance.multi.multiomics_integration.geneactivity_pca:GeneActivityPCA",
        "ATAC gene activity + joint PCA with RNA",
        "Stuart et al. (2019) Comprehensive integration of single-cell data. Cell 177:1888-1902",
        True,
    ),
)


@hookimpl
def dance_register_models(register: Registrar) -> None:
    for task, name, target, summary, citation, default in MODELS:
        register(name=name, task=task, target=target, summary=summary, citation=citation, default=default)


@hookimpl
def dance_register_datasets(register: Registrar) -> None:
    for spec in DATASETS:
        register(spec)


@hookimpl
def dance_register_transforms(register: Registrar) -> None:
    register(
        name="modality_reduction",
        target="dance.multi.features:modality_reduction",
        category="features",
        summary="PCA (expression, CLR proteins) or LSI (peaks) of one modality into obsm['X_reduced']",
    )
