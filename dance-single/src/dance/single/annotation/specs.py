"""Registry entries of this folder's models (plain data, read by the plugin; nothing is imported)."""

from dance.core.specs import ModelSpec

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="svm",
        task="cell_type_annotation",
        target="dance.single.annotation.svm:SVM",
        summary="Linear SVM on scaled log-normalised HVGs (DANCE baseline)",
        citation="Abdelaal et al. (2019) A comparison of automatic cell identification methods for single-cell RNA sequencing data. Genome Biol 20:194",
    ),
    ModelSpec(
        name="celltypist",
        task="cell_type_annotation",
        target="dance.single.annotation.celltypist:CellTypist",
        summary="Multinomial logistic regression (mini-batch SGD) with feature selection",
        citation="Dominguez Conde et al. (2022) Cross-tissue immune cell analysis reveals tissue-specific features in humans. Science 376:eabl5197",
        requires=("torch",),
        default=True,
    ),
    ModelSpec(
        name="actinn",
        task="cell_type_annotation",
        target="dance.single.annotation.actinn:ACTINN",
        summary="Fully connected ReLU network with softmax output on log2-normalised expression",
        citation="Ma & Pellegrini (2020) ACTINN: automated identification of cell types in single cell RNA sequencing. Bioinformatics 36:533-538",
        requires=("torch",),
    ),
    ModelSpec(
        name="singlecellnet",
        task="cell_type_annotation",
        target="dance.single.annotation.singlecellnet:SingleCellNet",
        summary="Top-scoring gene pairs and a random forest with a random-profile 'unknown' class",
        citation="Tan & Cahan (2019) SingleCellNet: a computational tool to classify single cell RNA-seq data across platforms and across species. Cell Syst 9:207-213",
    ),
    ModelSpec(
        name="scdeepsort",
        task="cell_type_annotation",
        target="dance.single.annotation.scdeepsort:ScDeepsort",
        summary="Weighted graph neural network on the cell-gene graph",
        citation=(
            "Shao et al. (2021) scDeepSort: a pre-trained cell-type annotation method for single-cell transcriptomics using deep "
            "learning with a weighted graph neural network. Nucleic Acids Res 49:e122"
        ),
        requires=("torch",),
    ),
)
