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
        summary="SGD logistic regression with feature selection",
        citation="Dominguez Conde et al. (2022) Cross-tissue immune cell analysis reveals tissue-specific features in humans. Science 376:eabl5197",
        default=True,
    ),
)
