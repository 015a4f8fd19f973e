from __future__ import annotations

import pytest

from dance.core import run


@pytest.mark.slow
def test_louvain_on_mouse_olfactory_bulb(tmp_path):
    result = run("spatial_domain", "louvain", "mouse_olfactory_bulb", out=tmp_path, n_clusters="labels")
    assert result.metrics["ari"] > 0.4 and result.params["n_clusters"] == 5 and result.notes["n_clusters_found"] == 5
