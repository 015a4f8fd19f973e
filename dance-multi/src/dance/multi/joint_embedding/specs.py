"""Registry entries of this folder's models (plain data, read by the plugin; nothing is imported)."""

from dance.core.specs import ModelSpec

NEURIPS = "Lance et al. (2022) Multimodal single cell data integration challenge: results and lessons learned. PMLR 176:162-176"
SCMOGNN = "Wen et al. (2022) Graph neural networks for multimodal single-cell data integration. KDD 2022:4153-4163"

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="pca_lsi",
        task="joint_embedding",
        target="dance.multi.joint_embedding.pca_lsi:PCALSI",
        summary="Concatenated PCA / LSI of both modalities (NeurIPS 2021 baseline)",
        citation=NEURIPS,
        default=True,
    ),
    ModelSpec(
        name="scmogcn",
        task="joint_embedding",
        target="dance.multi.joint_embedding.scmogcn:ScMoGCNEmbedding",
        summary="scMoGCN: propagated LSI of both modalities into an autoencoder whose latent predicts the training cells' types",
        citation=SCMOGNN,
        requires=("torch",),
        tags=("uses-training-labels",),
    ),
    ModelSpec(
        name="scmogcnv2",
        task="joint_embedding",
        target="dance.multi.joint_embedding.scmogcnv2:ScMoGCNv2Embedding",
        summary="scMoGCN v2: graph encoder on the cell-feature graph, both modalities reconstructed, training cells' types predicted",
        citation=SCMOGNN,
        requires=("torch",),
        tags=("uses-training-labels",),
    ),
    ModelSpec(
        name="jae",
        task="joint_embedding",
        target="dance.multi.joint_embedding.jae:JAE",
        summary="JAE (NeurIPS 2021, team Amateur): autoencoder on concatenated SVDs, latent parts for cell type, cell cycle and batch",
        citation=NEURIPS,
        requires=("torch",),
        tags=("uses-training-labels",),
    ),
    ModelSpec(
        name="scmvae",
        task="joint_embedding",
        target="dance.multi.joint_embedding.scmvae:ScMVAE",
        summary="scMVAE: multimodal VAE with a Gaussian-mixture prior and ZINB / NB decoders on counts",
        citation="Zuo & Chen (2021) Deep-joint-learning analysis model of single cell transcriptome and open chromatin accessibility data. Brief Bioinform 22:bbaa287",
        requires=("torch",),
    ),
    ModelSpec(
        name="dcca",
        task="joint_embedding",
        target="dance.multi.joint_embedding.dcca:DCCA",
        summary="DCCA: two VAEs (NB expression, Bernoulli accessibility / proteins) tied by a cycle attention loss",
        citation="Zuo, Dai & Chen (2021) Deep cross-omics cycle attention model for joint analysis of single-cell multi-omics data. Bioinformatics 37:4091-4099",
        requires=("torch",),
    ),
)
