"""The model base class: size check before any work, and predictions written into the user's data only when asked."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import KMeansClustering

from dance.core.errors import DanceInputError
from dance.core.testing import synthetic_data


def test_predict_leaves_the_data_alone_unless_a_key_is_given():
    adata = synthetic_data("clustering")
    before = (list(adata.obs.columns), list(adata.obsm.keys()))
    model = KMeansClustering(n_clusters=3, seed=0).fit(adata)
    labels = model.predict(adata)
    assert (list(adata.obs.columns), list(adata.obsm.keys())) == before
    again = model.predict(adata, key_added="kmeans")
    assert list(adata.obs["kmeans"].astype(int)) == list(labels) == list(again)
    assert isinstance(adata.obs["kmeans"].dtype, __import__("pandas").CategoricalDtype)


@pytest.mark.parametrize("key", ["", "a/b", 3])
def test_key_added_must_be_a_plain_name(key):
    adata = synthetic_data("clustering")
    model = KMeansClustering(n_clusters=3, seed=0).fit(adata)
    with pytest.raises(DanceInputError, match="key_added must be a non-empty name without '/'"):
        model.predict(adata, key_added=key)


def test_an_input_smaller_than_the_model_needs_says_what_it_has_and_needs():
    adata = synthetic_data("clustering")[:1].copy()
    with pytest.raises(DanceInputError, match=r"X has 1 cell\(s\) x \d+ feature\(s\); model 'kmeans_test' needs at least 2 cells"):
        KMeansClustering(seed=0).fit(adata)
    assert np.isfinite(adata.X).all()
