"""Registry entries of this folder's models (plain data, read by the plugin; nothing is imported)."""

from dance.core.specs import ModelSpec

NEURIPS = "Lance et al. (2022) Multimodal single cell data integration challenge: results and lessons learned. PMLR 176:162-176"

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="pca_lsi",
        task="joint_embedding",
        target="dance.multi.joint_embedding.pca_lsi:PCALSI",
        summary="Concatenated PCA / LSI of both modalities (NeurIPS 2021 baseline)",
        citation=NEURIPS,
        default=True,
    ),
)
