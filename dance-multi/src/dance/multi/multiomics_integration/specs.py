"""Registry entries of this folder's models (plain data, read by the plugin; nothing is imported)."""

from dance.core.specs import ModelSpec

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="geneactivity_pca",
        task="multiomics_integration",
        target="dance.multi.multiomics_integration.geneactivity_pca:GeneActivityPCA",
        summary="ATAC gene activity + joint PCA with RNA",
        citation="Stuart et al. (2019) Comprehensive integration of single-cell data. Cell 177:1888-1902",
    ),
    ModelSpec(
        name="geneactivity_harmony",
        task="multiomics_integration",
        target="dance.multi.multiomics_integration.geneactivity_harmony:GeneActivityHarmony",
        summary="ATAC gene activity + joint PCA with RNA, corrected by Harmony with the modality as batch",
        citation="Korsunsky et al. (2019) Fast, sensitive and accurate integration of single-cell data with Harmony. Nat Methods 16:1289-1296",
        requires=("dance-single", "torch"),
    ),
    ModelSpec(
        name="glue",
        task="multiomics_integration",
        target="dance.multi.multiomics_integration.glue:GLUE",
        summary="GLUE: graph-linked unified embedding of unpaired RNA and ATAC through a gene-peak guidance graph",
        citation="Cao & Gao (2022) Multi-omics single-cell data integration and regulatory inference with graph-linked embedding. Nat Biotechnol 40:1458-1466",
        default=True,
    ),
)
