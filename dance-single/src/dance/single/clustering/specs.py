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
    ModelSpec(
        name="scdeepcluster",
        task="clustering",
        target="dance.single.clustering.scdeepcluster:ScDeepCluster",
        summary="Deep embedded clustering with a denoising ZINB autoencoder",
        citation="Tian, Wan, Song & Wei (2019) Clustering single-cell RNA-seq data with a model-based deep learning approach. Nat Mach Intell 1:191-198",
        requires=("torch",),
    ),
    ModelSpec(
        name="scdcc",
        task="clustering",
        target="dance.single.clustering.scdcc:ScDCC",
        summary="scDeepCluster with pairwise must-link / cannot-link constraints from known labels",
        citation="Tian, Zhang, Lin, Wei & Hakonarson (2021) Model-based deep embedding for constrained clustering analysis of single cell RNA-seq data. Nat Commun 12:1873",
        requires=("torch",),
    ),
    ModelSpec(
        name="graphsc",
        task="clustering",
        target="dance.single.clustering.graphsc:GraphSC",
        summary="Graph autoencoder embedding of the cell-gene graph, clustered by k-means",
        citation="Ciortan & Defrance (2022) GNN-based embedding for clustering scRNA-seq data. Bioinformatics 38:1037-1044",
        requires=("torch", "torch_geometric"),
    ),
    ModelSpec(
        name="scdsc",
        task="clustering",
        target="dance.single.clustering.scdsc:ScDSC",
        summary="ZINB autoencoder and GCN on the cell graph with dual self-supervised clustering",
        citation="Gan et al. (2022) Deep structural clustering for single-cell RNA-seq data jointly through autoencoder and graph neural network. Brief Bioinform 23:bbac018",
        requires=("torch", "torch_geometric"),
    ),
    ModelSpec(
        name="sctag",
        task="clustering",
        target="dance.single.clustering.sctag:ScTAG",
        summary="ZINB graph autoencoder with a TAGConv encoder and soft-assignment clustering",
        citation="Yu et al. (2022) ZINB-based graph embedding autoencoder for single-cell RNA-seq interpretations. AAAI 36:4671-4679",
        requires=("torch", "torch_geometric"),
    ),
)
