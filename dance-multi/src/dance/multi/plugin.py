"""The ``multi`` plugin: registers dance-multi's models, datasets and transforms (specs only; each task
folder lists its models in its own ``specs.py``)."""

from __future__ import annotations

from dance.core import hookimpl
from dance.core.registry import Registrar
from dance.multi.datasets import DATASETS
from dance.multi.joint_embedding.specs import MODELS as JOINT_EMBEDDING
from dance.multi.modality_matching.specs import MODELS as MATCHING
from dance.multi.modality_prediction.specs import MODELS as PREDICTION
from dance.multi.multiomics_integration.specs import MODELS as INTEGRATION

MODELS = (*PREDICTION, *MATCHING, *JOINT_EMBEDDING, *INTEGRATION)


@hookimpl
def dance_register_models(register: Registrar) -> None:
    for spec in MODELS:
        register(spec)


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
    register(
        name="genomic_coordinates",
        target="dance.multi.guidance_graph:genomic_coordinates",
        category="features",
        summary="var chrom / chromStart / chromEnd (and strand) of peaks (from their names) or genes (annotation=mm10, GRCh38, a GTF ...)",
    )
