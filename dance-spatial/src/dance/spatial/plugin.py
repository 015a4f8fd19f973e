"""The ``spatial`` plugin: registers dance-spatial's models, datasets and transforms (specs only).

Each task folder lists its models in its own ``specs.py``.
"""

from __future__ import annotations

from dance.core import hookimpl
from dance.core.registry import Registrar
from dance.spatial.datasets import DATASETS
from dance.spatial.deconvolution.specs import MODELS as DECONVOLUTION
from dance.spatial.spatial_domain.specs import MODELS as DOMAINS

MODELS = (*DOMAINS, *DECONVOLUTION)

# (name, target, category, summary)
TRANSFORMS: tuple[tuple[str, str, str, str], ...] = (
    (
        "histology_coordinates",
        "dance.spatial.graphs:histology_coordinates",
        "graph",
        "SpaGCN's (x, y, histology colour) coordinates into obsm['spatial_histology'] (x, y without an image)",
    ),
    ("drop_genes", "dance.spatial.transforms:drop_genes", "preprocessing", "Drop genes by name prefix (ERCC spike-ins, MT- genes)"),
)


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
    for name, target, category, summary in TRANSFORMS:
        register(name=name, target=target, category=category, summary=summary)
