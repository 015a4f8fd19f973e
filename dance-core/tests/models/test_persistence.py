"""Saving a fitted model and applying it to new data: no pickle, genes checked, same predictions."""

from __future__ import annotations

import json

import numpy as np
import pytest
from annotation_helpers import centroid_plugin
from helpers import kmeans_plugin

from dance.core.errors import DanceError, DanceInputError
from dance.core.models.persistence import load_model_dir
from dance.core.prediction import predict
from dance.core.runner import run
from dance.core.testing import synthetic_data


@pytest.fixture
def registry(make_registry):
    return make_registry({"annotation": centroid_plugin(), "clustering": kmeans_plugin()})


def test_a_saved_model_predicts_the_same_labels_after_loading(registry, tmp_path):
    data = synthetic_data("cell_type_annotation")
    result = run("cell_type_annotation", "centroid_test", data, save_model=tmp_path / "model", write=False, registry=registry)
    assert result.model_dir == str(tmp_path / "model")
    files = sorted(p.name for p in (tmp_path / "model").iterdir())
    assert files == ["arrays.safetensors", "model.json"]  # numbers and JSON only: nothing that runs code when read
    saved = json.loads((tmp_path / "model" / "model.json").read_text())
    assert saved["model"] == "centroid_test" and saved["state"]["classes"] and len(saved["input_features"]["adata"]) == data.n_vars
    model = load_model_dir(tmp_path / "model", registry=registry)
    fitted = registry.load_model("centroid_test")(seed=0, registry=registry).fit(data)
    assert np.array_equal(model.predict(data), fitted.predict(data))


def test_predict_checks_the_genes_reorders_them_and_scores_labelled_data(registry, tmp_path):
    data = synthetic_data("cell_type_annotation")
    run("cell_type_annotation", "centroid_test", data, save_model=tmp_path / "model", write=False, registry=registry)
    query = data[:, ::-1].copy()  # same genes in reverse order, plus labels for scoring
    query.obs = query.obs.drop(columns=["split"], errors="ignore")
    result = predict(tmp_path / "model", query, out=tmp_path / "predicted", registry=registry)
    assert result.metrics["accuracy"] > 0.9 and result.fit_seconds == 0.0 and result.model_dir == str(tmp_path / "model")
    assert (tmp_path / "predicted" / "output.h5ad").is_file() and (tmp_path / "predicted" / "confusion_matrix.png").is_file()
    assert list(result.adata.obs["centroid_test_pred"]) == list(
        predict(tmp_path / "model", data, write=False, registry=registry).adata.obs["centroid_test_pred"]
    )
    missing = data[:, 3:].copy()
    with pytest.raises(
        DanceInputError, match=r"X lacks 3 of the \d+ features model 'centroid_test' was fitted on \(gene_0, gene_1, gene_2\)"
    ):
        predict(tmp_path / "model", missing, write=False, registry=registry)


def test_transductive_models_refuse_before_any_work(registry, tmp_path):
    with pytest.raises(DanceInputError, match="model 'kmeans_test' is transductive"):
        run("clustering", "kmeans_test", synthetic_data("clustering"), save_model=tmp_path / "m", write=False, registry=registry)
    assert not (tmp_path / "m").exists()


def test_a_folder_without_a_model_is_a_clear_error(tmp_path):
    with pytest.raises(DanceError, match="holds no saved dance model"):
        load_model_dir(tmp_path)
