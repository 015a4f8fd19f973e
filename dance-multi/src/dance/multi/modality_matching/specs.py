"""Registry entries of this folder's models (plain data, read by the plugin; nothing is imported)."""

from dance.core.specs import ModelSpec

NEURIPS = "Lance et al. (2022) Multimodal single cell data integration challenge: results and lessons learned. PMLR 176:162-176"

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="svd_matching",
        task="modality_matching",
        target="dance.multi.modality_matching.svd_matching:SVDMatching",
        summary="Shared SVD space + soft top-k and bipartite assignment (NeurIPS 2021 baseline)",
        citation=NEURIPS,
        default=True,
    ),
    ModelSpec(
        name="scmogcn",
        task="modality_matching",
        target="dance.multi.modality_matching.scmogcn:ScMoGNNMatching",
        summary="scMoGNN: parameter-free propagation of LSI features, contrastive matching head, one-to-one assignment",
        citation="Wen et al. (2022) Graph neural networks for multimodal single-cell data integration. KDD 2022:4153-4163",
        requires=("torch",),
    ),
    ModelSpec(
        name="scmm",
        task="modality_matching",
        target="dance.multi.modality_matching.scmm:ScMMMatching",
        summary="scMM: cosine similarity of the modalities' posterior means in the shared latent space",
        citation="Minoura et al. (2021) A mixture-of-experts deep generative model for integrated analysis of single-cell multiomics data. Cell Rep Methods 1:100071",
        requires=("torch",),
    ),
    ModelSpec(
        name="cmae",
        task="modality_matching",
        target="dance.multi.modality_matching.cmae:CMAEMatching",
        summary="Cross-modal autoencoders: cosine similarity of the modalities' latent codes",
        citation="Yang et al. (2021) Multi-domain translation between single-cell imaging and sequencing data using autoencoders. Nat Commun 12:31",
        requires=("torch",),
    ),
)
