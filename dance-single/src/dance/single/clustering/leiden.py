"""Leiden clustering baseline."""

from __future__ import annotations

from dance.core.models.community import CommunityDetection
from dance.core.tasks.clustering import ClusteringModel


class Leiden(CommunityDetection, ClusteringModel):
    """Leiden communities (Traag et al. 2019, Sci Rep 9:5233) of the cell kNN graph.

    With ``n_clusters`` (set from the labels when evaluating, as DANCE does) the resolution is
    found by bisection; otherwise ``resolution`` is used and the number of clusters is estimated.
    """

    name = "leiden"
    method = "leiden"
