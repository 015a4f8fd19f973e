"""Registry entries of this folder's models (plain data, read by the plugin; nothing is imported)."""

from dance.core.specs import ModelSpec

NEURIPS = "Lance et al. (2022) Multimodal single cell data integration challenge: results and lessons learned. PMLR 176:162-176"

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="svd_regression",
        task="modality_prediction",
        target="dance.multi.modality_prediction.svd_regression:SVDRegression",
        summary="Truncated SVD of the source modality + ridge regression (NeurIPS 2021 baseline)",
        citation=NEURIPS,
        default=True,
    ),
    ModelSpec(
        name="mean",
        task="modality_prediction",
        target="dance.multi.modality_prediction.mean_per_feature:MeanPerFeature",
        summary="Mean of each target feature over the training cells (NeurIPS 2021 trivial baseline)",
        citation=NEURIPS,
    ),
    ModelSpec(
        name="knn_regression",
        task="modality_prediction",
        target="dance.multi.modality_prediction.knn_regression:KNNRegression",
        summary="Truncated SVD + 100-nearest-neighbour regression (NeurIPS 2021 KNNR baseline)",
        citation=NEURIPS,
    ),
    ModelSpec(
        name="scmogcn",
        task="modality_prediction",
        target="dance.multi.modality_prediction.scmogcn:ScMoGNN",
        summary="scMoGNN: graph neural network on the cell-feature graph (NeurIPS 2021 winner)",
        citation="Wen et al. (2022) Graph neural networks for multimodal single-cell data integration. KDD 2022:4153-4163",
        requires=("torch",),
    ),
    ModelSpec(
        name="babel",
        task="modality_prediction",
        target="dance.multi.modality_prediction.babel:Babel",
        summary="BABEL: per-modality encoders/decoders around a shared latent space, NB / Bernoulli / L1 losses",
        citation="Wu et al. (2021) BABEL enables cross-modality translation between multiomic profiles at single-cell resolution. PNAS 118:e2023070118",
        requires=("torch",),
    ),
    ModelSpec(
        name="scmm",
        task="modality_prediction",
        target="dance.multi.modality_prediction.scmm:ScMM",
        summary="scMM: mixture-of-experts multimodal VAE (Laplace latents, NB / ZINB on counts), predicting with the mean",
        citation="Minoura et al. (2021) A mixture-of-experts deep generative model for integrated analysis of single-cell multiomics data. Cell Rep Methods 1:100071",
        requires=("torch",),
    ),
    ModelSpec(
        name="cmae",
        task="modality_prediction",
        target="dance.multi.modality_prediction.cmae:CMAE",
        summary="Cross-modal autoencoders: per-modality autoencoders, latent discriminator, paired supervision",
        citation="Yang et al. (2021) Multi-domain translation between single-cell imaging and sequencing data using autoencoders. Nat Commun 12:31",
        requires=("torch",),
    ),
)
