"""The ``single`` plugin: registers dance-single's models and datasets.

Imports only specs: model classes are named by ``module:attr`` targets and imported on use. Each
task folder lists its models in its own ``specs.py``.
"""

from __future__ import annotations

from dance.core import hookimpl
from dance.core.registry import Registrar
from dance.single.annotation.specs import MODELS as ANNOTATION
from dance.single.batch_integration.specs import MODELS as INTEGRATION
from dance.single.clustering.specs import MODELS as CLUSTERING
from dance.single.datasets import DATASETS
from dance.single.imputation.specs import MODELS as IMPUTATION

MODELS = (*CLUSTERING, *ANNOTATION, *IMPUTATION, *INTEGRATION)


@hookimpl
def dance_register_models(register: Registrar) -> None:
    for spec in MODELS:
        register(spec)


@hookimpl
def dance_register_datasets(register: Registrar) -> None:
    for spec in DATASETS:
        register(spec)
