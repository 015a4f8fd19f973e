"""What kind of features a modality holds (expression, proteins or peaks), read from its name or
its data, and the choices that follow from it (a model's default epochs)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from dance.multi.genomes import PEAK_NAME

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = ["NAMED_KINDS", "default_epochs", "modality_kind", "modality_kinds"]


#: modality names (as datasets and .h5mu files spell them) and the kind they are
NAMED_KINDS = {
    "rna": "gex",
    "gex": "gex",
    "gene expression": "gex",
    "adt": "adt",
    "protein": "adt",
    "proteins": "adt",
    "antibody capture": "adt",
    "atac": "atac",
    "peaks": "atac",
    "chromatin": "atac",
}


def modality_kinds(data: Any) -> tuple[Literal["atac", "adt", "gex"], Literal["atac", "adt", "gex"]]:
    """The kinds of a :class:`Modalities`' two modalities: from their names when they say it
    (``rna``, ``adt``, ``atac``, ...), else from the data (:func:`modality_kind`)."""
    kinds = []
    for adata, name in zip((data.mod1, data.mod2), data.names, strict=True):
        kinds.append(NAMED_KINDS.get(str(name).lower()) or modality_kind(adata))
    return kinds[0], kinds[1]  # type: ignore[return-value]


def default_epochs(epochs: int | None, kinds: tuple[str, str], *, usual: int, with_peaks: int) -> int:
    """A model's most epochs: ``epochs`` when the user gave it, else ``with_peaks`` when one of the
    two modalities is peaks and ``usual`` otherwise. Peaks make every step of the deep models
    several times dearer (SNARE-seq's 25,734 against 1,677 genes or 14 proteins), and the
    issue's budget is 10 minutes per run on two CPU cores; each model's docstring gives the
    measured time per epoch behind its ``with_peaks``."""
    if epochs is not None:
        return epochs
    return with_peaks if "atac" in kinds else usual


def modality_kind(adata: AnnData) -> Literal["atac", "adt", "gex"]:
    """Guess the modality from ``var['feature_types']`` or the feature names."""
    if "feature_types" in adata.var.columns and adata.n_vars:
        value = str(adata.var["feature_types"].iloc[0]).upper()
        if value in ("ATAC", "PEAKS"):
            return "atac"
        if value in ("ADT", "ANTIBODY CAPTURE", "PROTEIN"):
            return "adt"
        if value in ("GEX", "GENE EXPRESSION", "RNA"):
            return "gex"
    names = adata.var_names[: min(50, adata.n_vars)]
    if len(names) and all(PEAK_NAME.match(str(n)) for n in names):
        return "atac"
    return "adt" if adata.n_vars <= 300 else "gex"
