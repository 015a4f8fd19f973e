"""An importable plugin module (the kit checks plugin imports in a subprocess)."""

from __future__ import annotations

from dance.core.hookspecs import hookimpl

MODELS = {
    "kmeans_test": "helpers:KMeansClustering",
    "mutating_test": "helpers:InputMutatingClustering",
    "random_test": "helpers:RandomClustering",
}


@hookimpl
def dance_register_models(register):
    for name, target in MODELS.items():
        register(name=name, task="clustering", target=target, summary="model for the kit's tests", citation="Test et al. (2024)")
