"""A tiny real model and plugin modules used by dance-core's own tests."""

from __future__ import annotations

import types
from typing import Any

import numpy as np
from pydantic import Field

from dance.core.hookspecs import hookimpl
from dance.core.models.base import ModelParams
from dance.core.tasks.clustering import ClusteringModel
from dance.core.transforms.pipeline import step


class KMeansClustering(ClusteringModel):
    """k-means on PCA of log-normalised expression (MacQueen 1967)."""

    name = "kmeans_test"
    default_pipeline = (step("log_normalize"), step("pca", n_comps=10))

    class Params(ModelParams):
        n_clusters: int | None = Field(None, ge=2)

    def _fit(self, data: Any) -> None:
        from sklearn.cluster import KMeans

        k = self.params.n_clusters or 3
        self.labels_ = KMeans(n_clusters=k, n_init=5, random_state=self.seed).fit_predict(data.obsm["X_pca"])

    def _predict(self, data: Any) -> Any:
        return self.labels_


class InputMutatingClustering(KMeansClustering):
    """Deliberately breaks the contract: writes into the data it is given."""

    name = "mutating_test"
    default_pipeline = ()

    def fit(self, data: Any):  # bypasses the base class's copy on purpose
        data.obs["touched"] = 1
        data.obsm["X_pca"] = np.asarray(data.X)[:, :5]
        return super().fit(data)


class RandomClustering(KMeansClustering):
    """Deliberately breaks determinism: ignores the seed."""

    name = "random_test"

    def _fit(self, data: Any) -> None:
        self.labels_ = np.random.default_rng().integers(0, 3, size=data.n_obs)


def plugin_module(name: str, **hooks: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook_name, fn in hooks.items():
        setattr(module, hook_name, hookimpl(fn))
    return module


def kmeans_plugin(name: str = "testplugin", model_name: str = "kmeans_test") -> types.ModuleType:
    def dance_register_models(register):
        register(
            name=model_name,
            task="clustering",
            target="helpers:KMeansClustering",
            summary="k-means baseline for tests",
            citation="MacQueen (1967) Some methods for classification and analysis of multivariate observations",
        )

    return plugin_module(name, dance_register_models=dance_register_models)
