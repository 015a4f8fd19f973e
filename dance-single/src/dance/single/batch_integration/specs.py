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
)
