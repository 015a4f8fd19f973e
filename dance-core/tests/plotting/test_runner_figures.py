"""``dance run`` draws each task's figure next to result.json and keeps the UMAP in the outputs."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pytest
from figure_checks import read_png
from figure_models import MODELS
from helpers import kmeans_plugin, plugin_module

from dance.core.runner import run
from dance.core.testing import synthetic_data

#: the main figure ("plot") of each task
FIGURES = {
    "clustering": "umap.png",
    "spatial_domain": "spatial_domains.png",
    "cell_type_annotation": "confusion_matrix.png",
    "imputation": "imputed_vs_observed.png",
    "batch_integration": "umap.png",
    "modality_prediction": "predicted_vs_observed.png",
    "modality_matching": "matching_scores.png",
    "joint_embedding": "umap.png",
    "multiomics_integration": "umap.png",
    "cell_type_deconvolution": "proportions.png",
}

#: output files that keep the UMAP coordinates and the embedding drawn, for embedding tasks
EMBEDDING_OUTPUTS = {
    "clustering": ("output",),
    "batch_integration": ("output",),
    "joint_embedding": ("output_mod1", "output_mod2"),
    "multiomics_integration": ("output_mod1", "output_mod2"),
}


def figure_plugin():
    def dance_register_models(register):
        for task, cls in MODELS.items():
            register(name=cls.name, task=task, target=f"figure_models:{cls.__name__}", summary=cls.__doc__.splitlines()[0])

    return plugin_module("figures", dance_register_models=dance_register_models)


@pytest.fixture
def registry(make_registry):
    return make_registry({"figures": figure_plugin(), "testplugin": kmeans_plugin()})


@pytest.mark.parametrize("task", sorted(FIGURES))
def test_run_writes_the_task_figure(task, registry, tmp_path):
    model = MODELS[task].name
    result = run(task, model, synthetic_data(task), out=tmp_path, registry=registry)
    assert result.outputs["plot"] == str(tmp_path / FIGURES[task])
    read_png(tmp_path / FIGURES[task])
    for stem in EMBEDDING_OUTPUTS.get(task, ()):
        saved = ad.read_h5ad(tmp_path / f"{stem}.h5ad")
        assert saved.obsm["X_umap"].shape == (saved.n_obs, 2) and np.isfinite(saved.obsm["X_umap"]).all()
        assert f"X_{model}" in saved.obsm
        np.testing.assert_allclose(saved.obsm["X_umap"], result.adatas[stem].obsm["X_umap"])


def test_deconvolution_also_maps_the_dominant_type(registry, tmp_path):
    result = run("cell_type_deconvolution", "mean_nnls", synthetic_data("cell_type_deconvolution"), out=tmp_path, registry=registry)
    assert result.outputs["plot_dominant"] == str(tmp_path / "dominant_cell_type.png")
    read_png(tmp_path / "dominant_cell_type.png")


def test_no_plots_writes_no_figure_and_no_umap(registry, tmp_path):
    result = run("clustering", "embedded_kmeans", synthetic_data("clustering"), out=tmp_path, plots=False, registry=registry)
    assert not list(tmp_path.glob("*.png")) and "plot" not in result.outputs
    assert "X_umap" not in result.adata.obsm and "X_umap" not in ad.read_h5ad(tmp_path / "output.h5ad").obsm


def test_clustering_without_an_embedding_draws_and_keeps_the_expression_pca(registry, tmp_path):
    data = synthetic_data("clustering")
    del data.obs["cell_type"]  # no truth either: the figure shows the prediction alone
    result = run("clustering", "kmeans_test", data, out=tmp_path, registry=registry)
    read_png(tmp_path / "umap.png")
    saved = ad.read_h5ad(tmp_path / "output.h5ad")
    assert saved.obsm["X_pca"].shape[0] == data.n_obs and saved.obsm["X_umap"].shape == (data.n_obs, 2)
    assert result.metrics == {}


def test_the_figure_is_the_same_under_the_same_seed(registry, tmp_path):
    data = synthetic_data("joint_embedding")
    first = run("joint_embedding", "concat_pca", data, out=tmp_path / "a", seed=2, registry=registry)
    second = run("joint_embedding", "concat_pca", data, out=tmp_path / "b", seed=2, registry=registry)
    np.testing.assert_array_equal(first.adata.obsm["X_umap"], second.adata.obsm["X_umap"])
