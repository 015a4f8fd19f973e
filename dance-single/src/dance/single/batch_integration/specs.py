"""Registry entries of this folder's models (plain data, read by the plugin; nothing is imported)."""

from dance.core.specs import ModelSpec

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="combat",
        task="batch_integration",
        target="dance.single.batch_integration.combat:ComBat",
        summary="Empirical-Bayes per-batch gene adjustment",
        citation="Johnson, Li & Rabinovic (2007) Adjusting batch effects in microarray expression data using empirical Bayes methods. Biostatistics 8:118-127",
        default=True,
    ),
    ModelSpec(
        name="pca",
        task="batch_integration",
        target="dance.single.batch_integration.pca:PCA",
        summary="Unintegrated PCA control",
        citation="Luecken et al. (2022) Benchmarking atlas-level data integration in single-cell genomics. Nat Methods 19:41-50",
    ),
    ModelSpec(
        name="harmony",
        task="batch_integration",
        target="dance.single.batch_integration.harmony:Harmony",
        summary="Soft k-means with a batch-diversity penalty and per-cluster linear correction of PCs",
        citation="Korsunsky et al. (2019) Fast, sensitive and accurate integration of single-cell data with Harmony. Nat Methods 16:1289-1296",
        requires=("torch",),
    ),
    ModelSpec(
        name="fastmnn",
        task="batch_integration",
        target="dance.single.batch_integration.fastmnn:FastMNN",
        summary="Mutual nearest neighbours in a multi-batch PCA space, progressive merging (batchelor)",
        citation="Haghverdi, Lun, Morgan & Marioni (2018) Batch effects in single-cell RNA-sequencing data are corrected by matching mutual nearest neighbors. Nat Biotechnol 36:421-427",
    ),
    ModelSpec(
        name="scanorama",
        task="batch_integration",
        target="dance.single.batch_integration.scanorama:Scanorama",
        summary="Panoramic stitching: MNN matches across all datasets, merged by alignment score",
        citation="Hie, Bryson & Berger (2019) Efficient integration of heterogeneous single-cell transcriptomes using Scanorama. Nat Biotechnol 37:685-691",
    ),
    ModelSpec(
        name="seuratv3",
        task="batch_integration",
        target="dance.single.batch_integration.seuratv3:SeuratV3",
        summary="CCA anchors (mutual neighbours, filtered and scored) and anchor-weighted correction",
        citation="Stuart et al. (2019) Comprehensive integration of single-cell data. Cell 177:1888-1902",
    ),
    ModelSpec(
        name="ot",
        task="batch_integration",
        target="dance.single.batch_integration.optimal_transport.ot:OT",
        summary="Unbalanced entropic OT of each batch's embedding onto a reference batch, barycentric displacement (scBIOT approach)",
        citation="Chizat, Peyré, Schmitzer & Vialard (2018) Scaling algorithms for unbalanced optimal transport problems. Math Comp 87:2563-2609; scBIOT (haihuilab/scbiot)",
        requires=("POT", "torch"),
    ),
    ModelSpec(
        name="ot_centroids",
        task="batch_integration",
        target="dance.single.batch_integration.optimal_transport.ot_centroids:OTCentroids",
        summary="OT between per-batch k-means centroids, displacement interpolated to every cell (scales to 100M cells)",
        citation="Chizat, Peyré, Schmitzer & Vialard (2018) Scaling algorithms for unbalanced optimal transport problems. Math Comp 87:2563-2609; scBIOT integrate_centroids (haihuilab/scbiot)",
        requires=("POT", "torch", "faiss-cpu"),
    ),
    ModelSpec(
        name="scvi",
        task="batch_integration",
        target="dance.single.batch_integration.scvi:SCVI",
        summary="Variational autoencoder of counts (ZINB) with the batch as decoder covariate",
        citation="Lopez, Regier, Cole, Jordan & Yosef (2018) Deep generative modeling for single-cell transcriptomics. Nat Methods 15:1053-1058",
        requires=("torch",),
    ),
    ModelSpec(
        name="scanvi",
        task="batch_integration",
        target="dance.single.batch_integration.scanvi:SCANVI",
        summary="Semi-supervised scVI with a cell-type classifier; unlabelled cells marginalised",
        citation="Xu, Lopez, Mehlman, Regier, Jordan & Yosef (2021) Probabilistic harmonization and annotation of single-cell transcriptomics data with deep generative models. Mol Syst Biol 17:e9620",
        requires=("torch",),
    ),
)
