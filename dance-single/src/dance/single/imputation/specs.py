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
    ModelSpec(
        name="no_imputation",
        task="imputation",
        target="dance.single.imputation.no_imputation:NoImputation",
        summary="Control: the masked counts as they are (held-out entries stay 0)",
        citation="Hou et al. (2020) A systematic evaluation of single-cell RNA-sequencing imputation methods. Genome Biol 21:218",
        tags=("baseline",),
    ),
    ModelSpec(
        name="gene_mean",
        task="imputation",
        target="dance.single.imputation.gene_mean:GeneMean",
        summary="Baseline: each gene's mean observed (non-zero) count fills its zero entries",
        citation="Lance et al. (2022) Multimodal single cell data integration challenge: results and lessons learned. "
        "PMLR 176:162-176 (its mean-per-gene baseline)",
        tags=("baseline",),
    ),
    ModelSpec(
        name="knn_smoothing",
        task="imputation",
        target="dance.single.imputation.knn_smoothing:KNNSmoothing",
        summary="Baseline: library-normalised counts averaged over each cell's 15 nearest cells in PCA space",
        citation="Wagner, Yan & Yanai (2018) K-nearest neighbor smoothing for high-throughput single-cell RNA-Seq data. bioRxiv 217737",
        tags=("baseline",),
    ),
    ModelSpec(
        name="deepimpute",
        task="imputation",
        target="dance.single.imputation.deepimpute:DeepImpute",
        summary="Many small networks, each predicting 512 genes from their most correlated genes",
        citation="Arisdakessian et al. (2019) DeepImpute: an accurate, fast, and scalable deep neural network method to impute "
        "single-cell RNA-seq data. Genome Biology 20:211",
        requires=("torch",),
    ),
    ModelSpec(
        name="scgnn",
        task="imputation",
        target="dance.single.imputation.scgnn:ScGNN",
        summary="Autoencoder regularised by an EM-refined cell graph (GCN autoencoder) and the cell types found on it",
        citation="Wang et al. (2021) scGNN is a novel graph neural network framework for single-cell RNA-Seq analyses. Nat Commun 12:1882",
        requires=("torch", "torch_geometric"),
    ),
)
