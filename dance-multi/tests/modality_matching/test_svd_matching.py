from __future__ import annotations

import pytest

from dance.core import run


@pytest.mark.slow
def test_matching_is_far_better_than_random(tmp_path):
    result = run("modality_matching", "svd_matching", "bmmc_cite", out=tmp_path)
    assert result.metrics["matching_score"] > 10 / 289  # random is 1/289
