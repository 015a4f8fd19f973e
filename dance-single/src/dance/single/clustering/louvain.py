"""Louvain clustering baseline."""

from __future__ import annotations

from dance.core.models.community import CommunityDetection
from dance.core.tasks.clustering import ClusteringModel


class Louvain(CommunityDetection, ClusteringModel):
    """Louvain communities (Blondel et al. 2008, J Stat Mech P10008) of the cell kNN graph.

    With ``n_clusters`` the resolution is found by bisection; otherwise ``resolution`` is used.
    """

    name = "louvain"
    method = "louvain"
