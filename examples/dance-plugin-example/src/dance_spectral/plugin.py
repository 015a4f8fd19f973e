"""The plugin module named by the ``dance.plugins`` entry point.

It imports nothing heavy: the model and the loader are named by ``module:attr`` strings and
imported only when used.
"""

from dance.core import hookimpl


@hookimpl
def dance_register_models(register):
    register(
        name="spectral",
        task="clustering",
        target="dance_spectral.model:SpectralClustering",
        summary="Spectral clustering of the cell kNN graph",
        citation="Ng, Jordan & Weiss (2001) On spectral clustering: analysis and an algorithm. NIPS 14",
    )


@hookimpl
def dance_register_datasets(register):
    register(
        name="merfish_hypothalamus_reference",
        tasks=("clustering", "cell_type_annotation"),
        target="dance_spectral.loader:load",
        summary="RCTD's MERFISH single-cell reference: 1,308 cells x 134 genes, 14 cell types",
        citation="Cable et al. (2022) Robust decomposition of cell type mixtures in spatial transcriptomics. Nat Biotechnol 40:517-526",
        files=[
            {
                "path": "spatial/spacexr_ref_merfish.h5ad",
                "sha256": "ec99ccd5df6af585cf99e0041f4d387a65b47ff1b9a0f52733e18492b31cf4d7",
                "source": "https://github.com/dmcable/spacexr/tree/744153c6/inst/extdata/Reference/MERFISH",
                "package": "dance_spectral.data",
            }
        ],
        shape="1308 cells x 134 genes",
    )
