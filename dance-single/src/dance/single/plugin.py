"""The ``single`` plugin: registers dance-single's models and datasets.

Imports only specs: model classes are named by ``module:attr`` targets and imported on use.
"""

from __future__ import annotations

from dance.core import hookimpl
from dance.core.registry import Registrar
from dance.single.datasets import DATASETS

_M = "dance.single"

# (task, name, target, summary, citation, default)
MODELS: tuple[tuple[str, str, str, str, str, bool], ...] = (
    (
        "clustering",
        "leiden",
        f"{_M}.clustering.leiden:Leiden",
        "Leiden communities of the cell kNN graph",
        "Traag, Waltman & van Eck (2019) From Louvain to Leiden: guaranteeing well-connected communities. Sci Rep 9:5233",
        True,
    ),
    (
        "clustering",
        "louvain",
        f"{_M}.clustering.louvain:Louvain",
        "Louvain communities of the cell kNN graph",
        "Blondel et al. (2008) Fast unfolding of communities in large networks. J Stat Mech P10008",
        False,
    ),
    (
        "cell_type_annotation",
        "svm",
        f"{_M}.annotation.svm:SVM",
        "Linear SVM on scaled log-normalised HVGs (DANCE baseline)",
        "Abdelaal et al. (2019) A comparison of automatic cell identification methods for single-cell RNA sequencing data. Genome Biol 20:194",
        False,
    ),
    (
        "cell_type_annotation",
        "celltypist",
        f"{_M}.annotation.celltypist:CellTypist",
        "SGD logistic regression with feature selection",
        "Dominguez Conde et al. (2022) Cross-tissue immune cell analysis reveals tissue-specific features in humans. Science 376:eabl5197",
        True,
    ),
    (
        "imputation",
        "magic",
        f"{_M}.imputation.magic:MAGIC",
        "Diffusion of expression over an adaptive cell kernel",
        "van Dijk et al. (2018) Recovering gene interactions from single-cell data using data diffusion. Cell 174:716-729",
        True,
    ),
    (
        "batch_integration",
        "combat",
        f"{_M}.batch_integration.combat:ComBat",
        "Empirical-Bayes per-batch gene adjustment",
        "Johnson, Li & Rabinovic (2007) Adjusting batch effects in microarray expression data using empirical Bayes methods. Biostatistics 8:118-127",
        True,
    ),
    (
        "batch_integration",
        "pca",
        f"{_M}.batch_integration.pca:PCA",
        "Unintegrated PCA control",
        "Luecken et al. (2022) Benchmarking atlas-level data integration in single-cell genomics. Nat Methods 19:41-50",
        False,
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
