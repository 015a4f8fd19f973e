from __future__ import annotations

import numpy as np
import pytest

from dance.core import load_dataset, registry
from dance.core.keys import DataKeys
from dance.single.imputation.magic import MAGIC, alpha_decay_kernel


def test_kernel_is_symmetric_and_adaptive():
    rng = np.random.default_rng(0)
    points = np.vstack([rng.normal(0, 0.1, (30, 2)), rng.normal(5, 2.0, (30, 2))])
    kernel = alpha_decay_kernel(points, knn=5, decay=1.0, knn_max=15)
    assert abs(kernel - kernel.T).max() < 1e-12
    # both the dense and the sparse group get similar numbers of strong neighbours: the bandwidth adapts
    strong = np.asarray((kernel > 0.3).sum(axis=1)).ravel()
    assert abs(strong[:30].mean() - strong[30:].mean()) < 3


@pytest.mark.slow
def test_magic_recovers_held_out_entries_better_than_leaving_them_out():
    data = load_dataset("pbmc4k_10x", "imputation")
    contract = registry.contract("imputation")
    view, truth = contract.holdout(data, DataKeys(), seed=0)
    imputed = MAGIC().fit(view).predict(view)
    metrics = contract.evaluate(imputed, truth, DataKeys())
    zeros = contract.evaluate(np.zeros(view.shape), truth, DataKeys())
    assert metrics["pearson"] > 0.6 and metrics["mse"] < 0.5 * zeros["mse"]
