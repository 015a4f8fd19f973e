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
    ModelSpec(
        name="spagcn",
        task="spatial_domain",
        target="dance.spatial.spatial_domain.spagcn:SpaGCN",
        summary="Graph convolution on a Gaussian spot graph (optionally histology-aware) with iterative DEC clustering",
        citation=(
            "Hu et al. (2021) SpaGCN: Integrating gene expression, spatial location and histology to identify spatial domains "
            "and spatially variable genes by graph convolutional network. Nat Methods 18:1342-1351"
        ),
        requires=("torch",),
    ),
    ModelSpec(
        name="stagate",
        task="spatial_domain",
        target="dance.spatial.spatial_domain.stagate:STAGATE",
        summary="Graph attention auto-encoder on the spatial network; Gaussian mixture (mclust EEE) on its latent space",
        citation=(
            "Dong & Zhang (2022) Deciphering spatial domains from spatially resolved transcriptomics with an adaptive graph "
            "attention auto-encoder. Nat Commun 13:1739"
        ),
        requires=("torch", "torch_geometric"),
    ),
    ModelSpec(
        name="stlearn",
        task="spatial_domain",
        target="dance.spatial.spatial_domain.stlearn:StLearn",
        summary="SME normalisation (neighbour-smoothed expression weighted by expression and image similarity), PCA, Louvain",
        citation=(
            "Pham et al. (2023) Robust mapping of spatiotemporal trajectories and cell-cell interactions in healthy and "
            "diseased tissues. Nat Commun 14:7739 (stLearn; bioRxiv 2020.05.31.125658)"
        ),
    ),
)
