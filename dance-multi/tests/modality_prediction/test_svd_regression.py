from __future__ import annotations

import pytest

from dance.core import run


@pytest.mark.slow
def test_beats_predicting_the_training_mean(tmp_path):
    import numpy as np

    from dance.core import load_dataset

    result = run("modality_prediction", "svd_regression", "bmmc_cite", out=tmp_path)
    data = load_dataset("bmmc_cite", "modality_prediction")
    train = (data.mod1.obs["split"] == "train").to_numpy()
    target = data.mod2.X.toarray() if hasattr(data.mod2.X, "toarray") else np.asarray(data.mod2.X)
    mean_rmse = float(np.sqrt(((target[~train] - target[train].mean(axis=0)) ** 2).mean()))
    assert result.metrics["rmse"] < mean_rmse
