"""A tiny real model and plugin modules used by dance-core's own tests."""

from __future__ import annotations

import types
from typing import Any

import numpy as np
from pydantic import Field

from dance.core.hookspecs import hookimpl
from dance.core.models.base import ModelParams
from dance.core.tasks.clustering import ClusteringModel
from dance.core.tasks.imputation import ImputationModel
from dance.core.tasks.joint_embedding import JointEmbeddingModel
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


def half_metric(truth: Any, prediction: Any) -> float:
    """A metric only an isolated test registry knows."""
    return 0.5


def mark_transform(adata: Any) -> Any:
    """A transform only an isolated test registry knows: marks the data it saw."""
    adata.uns["marked_by_test_transform"] = True
    return adata


class MarkedKMeans(KMeansClustering):
    """k-means whose pipeline starts with the test registry's transform; refuses unmarked data."""

    name = "marked_kmeans_test"
    default_pipeline = (step("mark_transform"), step("log_normalize"), step("pca", n_comps=10))

    def _fit(self, data: Any) -> None:
        assert data.uns.get("marked_by_test_transform"), "the pipeline did not run the test registry's transform"
        super()._fit(data)


def isolated_plugin() -> types.ModuleType:
    """A metric, a transform and a model that exist only in the registry built from this plugin."""

    def dance_register_metrics(register):
        register(name="half", task="clustering", target="helpers:half_metric", summary="always 0.5", citation="Test (2024)")

    def dance_register_transforms(register):
        register(name="mark_transform", target="helpers:mark_transform", summary="marks the data")

    def dance_register_models(register):
        register(name="marked_kmeans_test", task="clustering", target="helpers:MarkedKMeans", summary="s", citation="MacQueen (1967)")

    return plugin_module(
        "isolated",
        dance_register_metrics=dance_register_metrics,
        dance_register_transforms=dance_register_transforms,
        dance_register_models=dance_register_models,
    )


class KnownLabelsKMeans(KMeansClustering):
    """k-means that records which label columns it was shown (for the reveal-labels protocol)."""

    name = "known_labels_test"

    def _fit(self, data: Any) -> None:
        column = f"known_{self.keys.label_key}"
        self.seen_columns_ = list(data.obs.columns)
        self.known_ = data.obs[column].notna().to_numpy() if column in data.obs else None
        super()._fit(data)


class HistoryKMeans(KMeansClustering):
    """k-means that reports a training history, as a model on dance-nn's trainer does."""

    name = "history_test"

    def _fit(self, data: Any) -> None:
        super()._fit(data)
        self.training_history_ = {"pretrain": {"zinb": [3.0, 1.0, 0.4]}, "train": {"loss": [2.0, 1.5], "val_loss": [2.2, 1.9]}}


class LabelledJointEmbedding(JointEmbeddingModel):
    """A joint embedding that trains on revealed cell types (records which it saw): each modality's
    first columns side by side."""

    name = "labelled_embedding_test"
    training_label_fraction = 0.5

    def _fit(self, data: Any) -> None:
        column = f"known_{self.keys.label_key}"
        self.known_ = data.mod1.obs[column].astype(object).to_numpy() if column in data.mod1.obs else None
        self.visible_labels_ = self.keys.label_key in data.mod1.obs or self.keys.label_key in data.mod2.obs

    def _predict(self, data: Any) -> Any:
        import scipy.sparse as sp

        blocks = [m.X[:, :3].toarray() if sp.issparse(m.X) else np.asarray(m.X)[:, :3] for m in (data.mod1, data.mod2)]
        return np.hstack(blocks).astype(np.float32)


def read_h5ad_dataset(files: dict, task: str) -> Any:
    """Loader of a one-file test dataset."""
    import anndata as ad

    return ad.read_h5ad(next(iter(files.values())))


def demo_dataset_plugin(sha256: str, model_params: dict) -> types.ModuleType:
    """A dataset ``demo_test`` (one h5ad at ``demo/demo.h5ad`` of DANCE_DATA_DIR) that gives models parameters."""

    def dance_register_datasets(register):
        register(
            name="demo_test",
            tasks=("clustering",),
            target="helpers:read_h5ad_dataset",
            summary="synthetic cells for tests",
            files=({"path": "demo/demo.h5ad", "sha256": sha256},),
            model_params=model_params,
        )

    return plugin_module("demo_data", dance_register_datasets=dance_register_datasets)


class ObservedImputation(ImputationModel):
    """Imputes nothing: the masked counts as they are (the task's no-imputation baseline, for core tests)."""

    name = "observed_test"

    def _fit(self, data: Any) -> None:
        from dance.core.validation import counts_matrix

        self.counts_ = counts_matrix(data, self.keys)

    def _predict(self, data: Any) -> Any:
        return self.counts_


def imputation_plugin() -> types.ModuleType:
    def dance_register_models(register):
        register(
            name="observed_test",
            task="imputation",
            target="helpers:ObservedImputation",
            summary="no imputation, for tests",
            citation="Test (2024)",
        )

    return plugin_module("imputation_test", dance_register_models=dance_register_models)
