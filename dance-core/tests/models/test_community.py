from __future__ import annotations

import numpy as np
import pytest

from dance.core.keys import DataKeys
from dance.core.models.community import CommunityDetection
from dance.core.tasks.clustering import Clustering, ClusteringModel
from dance.core.tasks.spatial_domain import SpatialDomainModel
from dance.core.testing import synthetic_data


class Leiden(CommunityDetection, ClusteringModel):
    name = "leiden_test"


class SpatialLouvain(CommunityDetection, SpatialDomainModel):
    name = "louvain_test"
    method = "louvain"


@pytest.mark.parametrize("model_cls, task", [(Leiden, "clustering"), (SpatialLouvain, "spatial_domain")])
def test_community_models_keep_the_pca_they_clustered(model_cls, task):
    data = synthetic_data(task)
    model = model_cls(n_pcs=8, n_neighbors=10).fit(data)
    assert model.embedding_.shape == (data.n_obs, 8) and model.embedding_.dtype == np.float32
    out = Clustering().write_output(data, model.predict(data), DataKeys(), model_name=model.name, model=model)["output"]
    np.testing.assert_array_equal(out.obsm[f"X_{model.name}"], model.embedding_)
