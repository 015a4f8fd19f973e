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
)
