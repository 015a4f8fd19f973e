from __future__ import annotations

import pytest

from dance.core import run


@pytest.mark.slow
@pytest.mark.parametrize("model, floor", [("leiden", 0.6), ("louvain", 0.6)])
def test_community_baselines_on_pbmc4k(model, floor, tmp_path):
    """Leiden / Louvain on the embedded 10x PBMC 4K set under DANCE's protocol (the number of
    labelled types given); measured ARI 0.662 (Leiden), seed 0."""
    result = run("clustering", model, "pbmc4k_10x", out=tmp_path, n_clusters="labels")
    assert result.metrics["ari"] > floor
    assert result.notes["n_clusters_found"] == 8 and result.notes["n_clusters_source"] == "labels"


@pytest.mark.slow
@pytest.mark.parametrize("model", ["leiden", "louvain"])
def test_by_default_the_labels_are_not_read_and_the_resolution_is_honoured(model, tmp_path):
    """Without --n-clusters the model clusters at its own resolution (1.0, or the one given); the
    labels only score the result. Measured for Leiden: 13 clusters at 1.0 and 12 at 0.8, ARI 0.580."""
    default = run("clustering", model, "pbmc4k_10x", out=tmp_path / "default", plots=False)
    assert default.notes["n_clusters_source"] == "model" and default.notes["resolution"] == 1.0
    assert default.params["n_clusters"] is None and default.metrics["ari"] > 0.5
    lower = run("clustering", model, "pbmc4k_10x", params={"resolution": 0.8}, out=tmp_path / "lower", plots=False)
    assert lower.notes["resolution"] == 0.8 and lower.notes["n_clusters_found"] <= default.notes["n_clusters_found"]


def test_without_target_the_resolution_is_used(tmp_path):
    from dance.core.testing import synthetic_data
    from dance.single.clustering.leiden import Leiden

    data = synthetic_data("clustering")
    del data.obs["cell_type"]
    model = Leiden(resolution=0.5, n_neighbors=10).fit(data)
    assert model.notes_["resolution"] == 0.5 and len(set(model.predict(data))) >= 2
