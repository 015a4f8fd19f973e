"""Registry entries of this folder's models (plain data, read by the plugin; nothing is imported)."""

from dance.core.specs import ModelSpec

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="leiden",
        task="clustering",
        target="dance.single.clustering.leiden:Leiden",
        summary="Leiden communities of the cell kNN graph",
        citation="Traag, Waltman & van Eck (2019) From Louvain to Leiden: guaranteeing well-connected communities. Sci Rep 9:5233",
        default=True,
    ),
    ModelSpec(
        name="louvain",
        task="clustering",
        target="dance.single.clustering.louvain:Louvain",
        summary="Louvain communities of the cell kNN graph",
        citation="Blondel et al. (2008) Fast unfolding of communities in large networks. J Stat Mech P10008",
    ),
)
