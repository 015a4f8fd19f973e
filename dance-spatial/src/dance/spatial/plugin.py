"""The ``spatial`` plugin: registers dance-spatial's models and datasets (specs only).

Each task folder lists its models in its own ``specs.py``.
"""

from __future__ import annotations

from dance.core import hookimpl
from dance.core.registry import Registrar
from dance.spatial.datasets import DATASETS
from dance.spatial.deconvolution.specs import MODELS as DECONVOLUTION
from dance.spatial.spatial_domain.specs import MODELS as DOMAINS

MODELS = (*DOMAINS, *DECONVOLUTION)


@hookimpl
def dance_register_models(register: Registrar) -> None:
    for spec in MODELS:
        register(spec)


@hookimpl
def dance_register_datasets(register: Registrar) -> None:
    for spec in DATASETS:
        register(spec)
