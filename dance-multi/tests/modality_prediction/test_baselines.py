from __future__ import annotations

import numpy as np
import pytest

from dance.core import load_dataset, run


def test_mean_predicts_the_training_mean_of_every_feature():
    result = run("modality_prediction", "mean", "bmmc_cite", write=False)
    data = load_dataset("bmmc_cite", "modality_prediction")
    train = (data.mod1.obs["split"] == "train").to_numpy()
    target = data.mod2.X.toarray() if hasattr(data.mod2.X, "toarray") else np.asarray(data.mod2.X)
    expected = float(np.sqrt(((target[~train] - target[train].mean(axis=0)) ** 2).mean()))
    assert result.metrics["rmse"] == pytest.approx(expected, rel=1e-5)
    assert "pearson_per_feature" in result.notes["metrics_absent"]  # a constant prediction has no correlation


def test_knn_regression_beats_the_mean_on_the_bmmc_starter():
    knn = run("modality_prediction", "knn_regression", "bmmc_cite", write=False)
    mean = run("modality_prediction", "mean", "bmmc_cite", write=False)
    assert knn.metrics["rmse"] < mean.metrics["rmse"] and knn.metrics["pearson_per_feature"] > 0.3


@pytest.mark.slow
def test_protein_from_rna_on_pbmc10k(shared_data_env):
    knn = run("modality_prediction", "knn_regression", "cite_pbmc10k", write=False)
    mean = run("modality_prediction", "mean", "cite_pbmc10k", write=False)
    assert knn.metrics["rmse"] < 0.8 * mean.metrics["rmse"]
    # the other direction, through --mod1 / --mod2
    reverse = run("modality_prediction", "knn_regression", "cite_pbmc10k", modalities=("adt", "rna"), write=False)
    assert reverse.modalities == ["adt", "rna"] and reverse.metrics["rmse"] < mean.metrics["rmse"]
