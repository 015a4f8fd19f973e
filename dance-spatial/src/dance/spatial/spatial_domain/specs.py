"""Registry entries of this folder's models (plain data, read by the plugin; nothing is imported)."""

from dance.core.specs import ModelSpec

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="louvain",
        task="spatial_domain",
        target="dance.spatial.spatial_domain.louvain:Louvain",
        summary="Louvain communities of spot expression (no coordinates)",
        citation="Blondel et al. (2008) Fast unfolding of communities in large networks. J Stat Mech P10008",
        default=True,
    ),
)
