"""The ``spatial`` plugin: registers dance-spatial's models and datasets (specs only)."""

from __future__ import annotations

from dance.core import hookimpl
from dance.core.registry import Registrar
from dance.spatial.datasets import DATASETS

# (task, name, target, summary, citation, default)
MODELS: tuple[tuple[str, str, str, str, str, bool], ...] = (
    (
        "spatial_domain",
        "louvain",
        "dance.spatial.spatial_domain.louvain:Louvain",
        "Louvain communities of spot expression (no coordinates)",
        "Blondel et al. (2008) Fast unfolding of communities in large networks. J Stat Mech P10008",
        True,
    ),
    (
        "cell_type_deconvolution",
        "nnls",
        "dance.spatial.deconvolution.nnls:NNLS",
        "Non-negative least squares on reference signatures",
        "Lawson & Hanson (1974) Solving Least Squares Problems. Prentice-Hall",
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
