from __future__ import annotations

import pytest

from dance.core import run


@pytest.mark.slow
@pytest.mark.parametrize("model, floor", [("leiden", 0.6), ("louvain", 0.6)])
def test_community_baselines_on_pbmc4k(model, floor, tmp_path):
    """Leiden / Louvain on the embedded 10x PBMC 4K set, with the number of types from the labels."""
    result = run("clustering", model, "pbmc4k_10x", out=tmp_path)
    assert result.metrics["ari"] > floor
    assert result.notes["n_clusters_found"] == 8


def test_without_target_the_resolution_is_used(tmp_path):
    from dance.core.testing import synthetic_data
    from dance.single.clustering.leiden import Leiden

    data = synthetic_data("clustering")
    del data.obs["cell_type"]
    model = Leiden(resolution=0.5, n_neighbors=10).fit(data)
    assert model.notes_["resolution"] == 0.5 and len(set(model.predict(data))) >= 2
