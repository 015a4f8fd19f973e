"""A model whose module imports scanpy at module level (the kit's model import check must flag it)."""

from __future__ import annotations

import scanpy  # noqa: F401  (deliberately at module level)
from helpers import KMeansClustering


class HeavyImportClustering(KMeansClustering):
    """k-means, from a module that imports a heavy library when it is imported."""

    name = "heavy_import_test"
