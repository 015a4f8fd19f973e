from __future__ import annotations

import pytest


@pytest.fixture
def labelled_counts():
    """The test kit's synthetic counts (3 groups, 150 cells x 80 genes) with labels."""
    from dance.core.testing import synthetic_data

    return synthetic_data("clustering", seed=0)


@pytest.fixture
def unlabelled_counts(labelled_counts):
    data = labelled_counts.copy()
    del data.obs["cell_type"]
    return data
