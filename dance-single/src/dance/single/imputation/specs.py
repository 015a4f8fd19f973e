"""Registry entries of this folder's models (plain data, read by the plugin; nothing is imported)."""

from dance.core.specs import ModelSpec

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="magic",
        task="imputation",
        target="dance.single.imputation.magic:MAGIC",
        summary="Diffusion of expression over an adaptive cell kernel",
        citation="van Dijk et al. (2018) Recovering gene interactions from single-cell data using data diffusion. Cell 174:716-729",
        default=True,
    ),
)
