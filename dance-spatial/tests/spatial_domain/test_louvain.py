from __future__ import annotations

import pytest

from dance.core import run


@pytest.mark.slow
def test_louvain_on_mouse_olfactory_bulb(tmp_path):
    result = run("spatial_domain", "louvain", "mouse_olfactory_bulb", out=tmp_path)
    assert result.metrics["ari"] > 0.4 and result.notes["n_clusters"] == 5
