"""scMM and the cross-modal autoencoders matching in their latent spaces: the features they read."""

from __future__ import annotations

import numpy as np

from dance.core.registry import registry
from dance.core.testing import synthetic_data


def _fitted(name: str, **params):
    cls = registry.load_model(name, "modality_matching")
    data = synthetic_data("modality_matching")
    view, _ = registry.contract("modality_matching").holdout(data, cls().keys, seed=0)
    return cls({**cls.quick_params, **params}, seed=0, device="cpu").fit(view), view


def test_cmae_keeps_the_most_variable_features_of_a_wide_modality_and_scores_every_pair():
    """DANCE's matching example: above n_top_features, the most variable (Seurat v3 on counts)."""
    model, view = _fitted("cmae", n_top_features=40)
    assert model.features_[1] is None  # 12 proteins: all kept
    assert len(model.features_[0]) == 40 and set(model.features_[0]) <= set(map(str, view.mod1.var_names))
    import torch

    first = next(m for m in model.module_.autoencoders[0].modules() if isinstance(m, torch.nn.Linear))
    assert first.in_features == 40
    scores = model.predict(view)
    train1, train2 = model.split_masks(view)
    assert scores.shape == ((~train1).sum(), (~train2).sum())
    assert np.isfinite(scores.toarray() if hasattr(scores, "toarray") else scores).all()


def test_scmm_reads_every_feature_of_modalities_without_peaks():
    model, view = _fitted("scmm")
    assert model.features_ == [None, None]
    scores = model.predict(view)
    train1, train2 = model.split_masks(view)
    assert scores.shape == ((~train1).sum(), (~train2).sum())
