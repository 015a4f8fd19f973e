from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dance.core.keys import DataKeys
from dance.core.tasks.cell_type_annotation import CellTypeAnnotation
from dance.core.testing import synthetic_data
from dance.single.annotation.actinn import ACTINN
from dance.single.annotation.actinn_module import ACTINNNet


@pytest.fixture(scope="module")
def view():
    data = synthetic_data("cell_type_annotation")
    return CellTypeAnnotation().holdout(data, DataKeys(), seed=0)[0]


def test_network_shape_and_penalty():
    net = ACTINNNet(40, 5)
    linears = [m for m in net.layers if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [100, 50, 25, 5]
    assert all(float(m.bias.detach().abs().sum()) == 0 for m in linears)
    expected = sum(float((m.weight**2).sum()) / 2 for m in linears)
    assert math.isclose(float(net.weight_penalty()), expected, rel_tol=1e-5)
    assert net(torch.zeros(3, 40)).shape == (3, 5)


def test_gene_filter_drops_extreme_genes():
    rng = np.random.default_rng(0)
    x = rng.gamma(2.0, 1.0, size=(200, 300))
    x[:, 0] *= 100  # highest total expression
    x[:, 1] = 1e-3 + 1e-4 * rng.random(200)  # lowest total, lowest CV
    keep = ACTINN(filter_percentile=1.0)._gene_filter(x)
    assert 0 not in keep and 1 not in keep
    assert 280 <= len(keep) < 300
    assert len(ACTINN(filter_percentile=0.0)._gene_filter(x)) == 300


def test_trains_at_least_min_steps_and_keeps_probabilities(view):
    model = ACTINN(epochs=1, min_steps=20, batch_size=32).fit(view)
    n_train = int(model.train_mask(view).sum())
    steps_per_epoch = math.ceil(n_train / 32)
    assert model.notes_["actinn_steps"] >= 20
    assert model.notes_["actinn_epochs"] == math.ceil(20 / steps_per_epoch)
    history = model.training_history_["train"]  # the trainer's per-epoch means
    assert len(history["loss"]) == model.notes_["actinn_epochs"] and history["loss"][-1] == model.notes_["actinn_final_loss"]
    assert all(ce < total for ce, total in zip(history["cross_entropy"], history["loss"], strict=True))  # plus the L2 penalty
    labels = model.predict(view)
    proba = model.probabilities_
    assert np.allclose(proba.sum(axis=1), 1) and (proba.idxmax(axis=1).to_numpy() == labels).all()
    assert set(labels) <= set(model.classes_)  # closed set: never "unknown"


def test_learns_the_synthetic_types(view):
    model = ACTINN(epochs=200, min_steps=0, learning_rate=1e-3).fit(view)
    test = (view.obs["split"] == "test").to_numpy()
    truth = synthetic_data("cell_type_annotation").obs["cell_type"].astype(str).to_numpy()
    assert (model.predict(view)[test] == truth[test]).mean() > 0.8
