"""Registry entries of this folder's models (plain data, read by the plugin; nothing is imported)."""

from dance.core.specs import ModelSpec

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="nnls",
        task="cell_type_deconvolution",
        target="dance.spatial.deconvolution.nnls:NNLS",
        summary="Non-negative least squares on reference signatures",
        citation="Lawson & Hanson (1974) Solving Least Squares Problems. Prentice-Hall",
        default=True,
    ),
    ModelSpec(
        name="card",
        task="cell_type_deconvolution",
        target="dance.spatial.deconvolution.card:CARD",
        summary="Non-negative regression on reference signatures with a conditional autoregressive spatial prior",
        citation="Ma & Zhou (2022) Spatially informed cell-type deconvolution for spatial transcriptomics. Nat Biotechnol 40:1349-1359",
    ),
    ModelSpec(
        name="spotlight",
        task="cell_type_deconvolution",
        target="dance.spatial.deconvolution.spotlight:SPOTlight",
        summary="Marker-seeded NMF of the reference; NNLS of spots onto topics, then of topics onto cell types",
        citation=(
            "Elosua-Bayes et al. (2021) SPOTlight: seeded NMF regression to deconvolute spatial transcriptomics spots with "
            "single-cell transcriptomes. Nucleic Acids Res 49:e50"
        ),
        requires=("scanpy",),
    ),
    ModelSpec(
        name="spatialdecon",
        task="cell_type_deconvolution",
        target="dance.spatial.deconvolution.spatialdecon:SpatialDecon",
        summary="Log-normal non-negative regression of spot expression on cell profiles (with outlier removal)",
        citation=(
            "Danaher et al. (2022) Advances in mixed cell deconvolution enable quantification of cell types in spatial "
            "transcriptomic data. Nat Commun 13:385"
        ),
    ),
    ModelSpec(
        name="dstg",
        task="cell_type_deconvolution",
        target="dance.spatial.deconvolution.dstg:DSTG",
        summary="GCN on a mutual-nearest-neighbour graph of pseudo-spots and real spots, trained on pseudo-spot proportions",
        citation=(
            "Song & Su (2021) DSTG: deconvoluting spatial transcriptomics data through graph-based artificial intelligence. "
            "Brief Bioinform 22:bbaa414"
        ),
        requires=("torch",),
    ),
)
