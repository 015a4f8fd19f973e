"""Louvain spatial-domain baseline: expression-only communities of spots."""

from __future__ import annotations

from dance.core.models.community import CommunityDetection
from dance.core.tasks.spatial_domain import SpatialDomainModel


class Louvain(CommunityDetection, SpatialDomainModel):
    """Louvain communities (Blondel et al. 2008, J Stat Mech P10008) of the spots' expression
    kNN graph, ignoring coordinates: the baseline spatial methods must beat. With
    ``n_clusters`` (the number of annotated domains when evaluating) the resolution is found by
    bisection."""

    name = "louvain"
    method = "louvain"
