"""dance-core's own plugin: the ten task contracts, their metrics, and the transforms.

Registered through the ``dance.plugins`` entry point like any third-party plugin. Importing
this module imports only the light contract modules (no numpy, scanpy or torch).
"""

from __future__ import annotations

import importlib

from dance.core.hookspecs import hookimpl
from dance.core.registrar import Registrar
from dance.core.tasks import TASK_MODULES

SCIB = "Luecken et al. (2022) Benchmarking atlas-level data integration in single-cell genomics. Nat Methods 19:41-50"
NEURIPS = "Lance et al. (2022) Multimodal single cell data integration challenge: results and lessons learned. PMLR 176:162-176"
GLUE = "Cao & Gao (2022) Nat Biotechnol 40:1458-1466"
SCGNN = "Wang et al. (2021) scGNN is a novel graph neural network framework for single-cell RNA-Seq analyses. Nat Commun 12:1882"

_LABELS = "dance.core.metrics.labels"
_REGRESSION = "dance.core.metrics.regression"
_EMBEDDING = "dance.core.metrics.scib_metrics"
_MATCHING = "dance.core.metrics.matching"
_OMICS = "dance.core.metrics.omics_integration"
_IMPUTATION = "dance.core.metrics.imputation"

# (task, name, target, higher_is_better, summary, citation)
METRICS: tuple[tuple[str, str, str, bool, str, str | None], ...] = (
    ("cell_type_annotation", "accuracy", f"{_LABELS}:accuracy", True, "Fraction of test cells labelled correctly", None),
    ("cell_type_annotation", "macro_f1", f"{_LABELS}:macro_f1", True, "F1 averaged over true classes", None),
    (
        "clustering",
        "ari",
        f"{_LABELS}:adjusted_rand_index",
        True,
        "Adjusted Rand index vs labels",
        "Hubert & Arabie (1985) J Classif 2:193-218",
    ),
    ("clustering", "nmi", f"{_LABELS}:normalized_mutual_information", True, "Normalised mutual information vs labels", None),
    ("imputation", "mse", f"{_IMPUTATION}:mean_squared_error", False, "MSE of log1p values on held-out entries", None),
    ("imputation", "rmse", f"{_IMPUTATION}:root_mean_squared_error", False, "RMSE of log1p values on held-out entries", None),
    ("imputation", "pearson", f"{_IMPUTATION}:pearson", True, "Pearson r of log1p values on held-out entries", None),
    ("imputation", "median_l1", f"{_IMPUTATION}:median_l1", False, "Median |error| of log1p values on held-out entries", SCGNN),
    (
        "imputation",
        "cosine",
        f"{_IMPUTATION}:cosine",
        True,
        "Per-cell cosine of held-out log1p values, mean over cells with >= 2",
        None,
    ),
    ("imputation", "ari_imputed", f"{_IMPUTATION}:ari_imputed", True, "ARI vs cell types of Leiden clusters of the imputed matrix", None),
    ("imputation", "ari_masked", f"{_IMPUTATION}:ari_masked", True, "The same ARI for the masked input (reference)", None),
    ("imputation", "ari_gain", f"{_IMPUTATION}:ari_gain", True, "ari_imputed - ari_masked", None),
    ("batch_integration", "nmi", f"{_EMBEDDING}:cluster_nmi", True, "NMI of optimal Leiden clusters vs cell types", SCIB),
    ("batch_integration", "ari", f"{_EMBEDDING}:cluster_ari", True, "ARI of optimal Leiden clusters vs cell types", SCIB),
    ("batch_integration", "asw_label", f"{_EMBEDDING}:asw_label", True, "Cell-type silhouette, rescaled to [0, 1]", SCIB),
    ("batch_integration", "asw_batch", f"{_EMBEDDING}:asw_batch", True, "1 - |batch silhouette| within cell types", SCIB),
    (
        "batch_integration",
        "graph_connectivity",
        f"{_EMBEDDING}:graph_connectivity",
        True,
        "Connectivity of each cell type's kNN subgraph",
        SCIB,
    ),
    ("batch_integration", "isolated_label_f1", f"{_EMBEDDING}:isolated_label_f1", True, "Best cluster F1 of isolated labels", SCIB),
    ("batch_integration", "isolated_label_asw", f"{_EMBEDDING}:isolated_label_asw", True, "Silhouette of isolated labels, rescaled", SCIB),
    ("batch_integration", "clisi", f"{_EMBEDDING}:clisi", True, "Cell-type LISI (90 neighbours), scaled to [0, 1]", SCIB),
    ("batch_integration", "ilisi", f"{_EMBEDDING}:ilisi", True, "Batch LISI (90 neighbours), scaled to [0, 1]", SCIB),
    ("batch_integration", "kbet", f"{_EMBEDDING}:kbet", True, "kBET acceptance rate per cell type", SCIB),
    (
        "batch_integration",
        "pcr_comparison",
        f"{_EMBEDDING}:pcr_comparison",
        True,
        "Drop of batch-explained variance vs the unintegrated PCA",
        SCIB,
    ),
    ("modality_prediction", "rmse", f"{_REGRESSION}:root_mean_squared_error", False, "Root mean squared error on test cells", NEURIPS),
    (
        "modality_prediction",
        "pearson_per_feature",
        f"{_REGRESSION}:pearson_per_feature",
        True,
        "Pearson r of each feature over the test cells, averaged over features",
        NEURIPS,
    ),
    ("modality_matching", "matching_score", f"{_MATCHING}:matching_score", True, "Probability mass on the true partner", NEURIPS),
    ("modality_matching", "top1_accuracy", f"{_MATCHING}:top1_accuracy", True, "Share of test cells whose best match is the partner", None),
    ("joint_embedding", "nmi", f"{_EMBEDDING}:cluster_nmi", True, "NMI of optimal Leiden clusters vs cell types", NEURIPS),
    ("joint_embedding", "asw_label", f"{_EMBEDDING}:asw_label", True, "Cell-type silhouette, rescaled to [0, 1]", NEURIPS),
    ("joint_embedding", "asw_batch", f"{_EMBEDDING}:asw_batch_of_batches", True, "1 - |batch silhouette| within cell types", NEURIPS),
    ("joint_embedding", "graph_conn", f"{_EMBEDDING}:graph_connectivity", True, "Connectivity of each cell type's kNN subgraph", NEURIPS),
    (
        "joint_embedding",
        "cc_cons",
        f"{_EMBEDDING}:cell_cycle_conservation_score",
        True,
        "Cell-cycle variance of the expression kept in the embedding",
        NEURIPS,
    ),
    (
        "joint_embedding",
        "ti_cons",
        f"{_EMBEDDING}:trajectory_conservation_score",
        True,
        "Spearman of diffusion pseudotime on the embedding with the true pseudotime",
        NEURIPS,
    ),
    ("joint_embedding", "ari", f"{_EMBEDDING}:cluster_ari", True, "ARI of optimal Leiden clusters vs cell types", NEURIPS),
    (
        "multiomics_integration",
        "foscttm",
        f"{_MATCHING}:foscttm",
        False,
        "Fraction of samples closer than the true match",
        "Liu et al. (2019) WABI",
    ),
    (
        "multiomics_integration",
        "label_transfer_accuracy",
        f"{_MATCHING}:label_transfer_accuracy",
        True,
        "kNN label transfer accuracy mod1 -> mod2",
        None,
    ),
    (
        "multiomics_integration",
        "map",
        f"{_OMICS}:mean_average_precision",
        True,
        "Mean average precision of cell types, 1% neighbours",
        GLUE,
    ),
    ("multiomics_integration", "cell_type_asw", f"{_OMICS}:cell_type_asw", True, "Cell-type silhouette, rescaled to [0, 1]", GLUE),
    (
        "multiomics_integration",
        "neighbor_conservation",
        f"{_OMICS}:neighbor_conservation",
        True,
        "Overlap of each modality's neighbours before and after integration",
        GLUE,
    ),
    (
        "multiomics_integration",
        "seurat_alignment_score",
        f"{_OMICS}:seurat_alignment_score",
        True,
        "Share of other-modality neighbours in balanced subsamples",
        GLUE,
    ),
    ("multiomics_integration", "omics_layer_asw", f"{_OMICS}:omics_layer_asw", True, "1 - |modality silhouette| within cell types", GLUE),
    (
        "multiomics_integration",
        "graph_connectivity",
        f"{_OMICS}:graph_connectivity",
        True,
        "Connectivity of each cell type's kNN subgraph",
        GLUE,
    ),
    (
        "multiomics_integration",
        "glue_overall",
        f"{_OMICS}:glue_overall",
        True,
        "0.6 x biology conservation + 0.4 x omics mixing",
        GLUE,
    ),
    ("spatial_domain", "ari", f"{_LABELS}:adjusted_rand_index", True, "Adjusted Rand index vs annotated domains", None),
    ("spatial_domain", "nmi", f"{_LABELS}:normalized_mutual_information", True, "Normalised mutual information vs annotated domains", None),
    ("cell_type_deconvolution", "mse", f"{_REGRESSION}:mean_squared_error", False, "MSE of proportions vs truth", None),
    (
        "cell_type_deconvolution",
        "jsd",
        "dance.core.metrics.proportions:jensen_shannon_divergence",
        False,
        "Mean Jensen-Shannon divergence of spots",
        None,
    ),
)

_PRE = "dance.core.transforms.preprocessing"
_GRAPH = "dance.core.transforms.graphs"
# (name, target, category, summary)
TRANSFORMS: tuple[tuple[str, str, str, str], ...] = (
    ("select_counts", f"{_PRE}:select_counts", "preprocessing", "Raw counts into X (and the counts layer)"),
    ("filter_genes", f"{_PRE}:filter_genes", "preprocessing", "Drop genes detected in too few cells"),
    ("normalize_total", f"{_PRE}:normalize_total", "preprocessing", "Library-size normalisation (scanpy), size factors in obs"),
    ("log1p", f"{_PRE}:log1p", "preprocessing", "log(1 + x)"),
    ("log_normalize", f"{_PRE}:log_normalize", "preprocessing", "Counts -> normalise + log1p; log-normalised X kept as is"),
    ("highly_variable_genes", f"{_PRE}:highly_variable_genes", "features", "Keep the most variable genes (scanpy)"),
    ("scale", f"{_PRE}:scale", "preprocessing", "Per-gene standardisation with clipping"),
    ("pca", f"{_PRE}:pca", "features", "Principal components into obsm['X_pca']"),
    ("tfidf", f"{_PRE}:tfidf", "preprocessing", "TF-IDF of peak counts"),
    ("lsi", f"{_PRE}:lsi", "features", "TF-IDF + truncated SVD into obsm['X_lsi']"),
    ("knn_graph", f"{_GRAPH}:knn_graph", "graph", "kNN cell graph (scanpy neighbors)"),
    ("cell_gene_graph", f"{_GRAPH}:cell_gene_graph", "graph", "Weighted cell-gene bipartite graph"),
    ("spatial_graph", f"{_GRAPH}:spatial_graph", "graph", "Radius or kNN graph on spot coordinates"),
)


@hookimpl
def dance_register_tasks(register: Registrar) -> None:
    for module_name in TASK_MODULES:
        register(importlib.import_module(module_name).SPEC)


@hookimpl
def dance_register_metrics(register: Registrar) -> None:
    for task, name, target, higher, summary, citation in METRICS:
        register(name=name, task=task, target=target, higher_is_better=higher, summary=summary, citation=citation)


@hookimpl
def dance_register_transforms(register: Registrar) -> None:
    for name, target, category, summary in TRANSFORMS:
        register(name=name, target=target, category=category, summary=summary, requires=("scanpy",))
