"""Containers for tasks with two inputs.

Single-modality tasks take one :class:`anndata.AnnData`. Tasks on two modalities take
:class:`Modalities`; deconvolution takes :class:`SpotsAndReference`. Both are thin, typed
pairs of AnnData objects, so every model's ``fit``/``predict``/``score`` takes one argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = ["Modalities", "SpotsAndReference", "TaskData", "roles_of"]


@dataclass(eq=False)
class Modalities:
    """Two modalities of (possibly) the same cells.

    Parameters
    ----------
    mod1, mod2
        The modalities, e.g. gene expression and protein (CITE-seq) or chromatin (ATAC).
        Paired tasks need the same cells in the same order; unpaired integration does not.
    names
        Human names of the two modalities, used in messages and output files.
    """

    mod1: AnnData
    mod2: AnnData
    names: tuple[str, str] = ("mod1", "mod2")

    def copy(self) -> Modalities:
        return Modalities(self.mod1.copy(), self.mod2.copy(), self.names)

    @property
    def paired(self) -> bool:
        """True when both modalities hold the same cells in the same order."""
        return self.mod1.n_obs == self.mod2.n_obs and bool((self.mod1.obs_names == self.mod2.obs_names).all())

    def __repr__(self) -> str:
        return (
            f"Modalities({self.names[0]}: {self.mod1.n_obs} x {self.mod1.n_vars}, {self.names[1]}: {self.mod2.n_obs} x {self.mod2.n_vars})"
        )


@dataclass(eq=False)
class SpotsAndReference:
    """Spatial spots to deconvolve and a labelled reference.

    Parameters
    ----------
    spots
        Spot expression; ``obsm['spatial']`` coordinates where the method uses them, and
        ``obsm['proportions']`` (DataFrame, one column per cell type) when the truth is known.
    reference
        Single cells with ``obs['cell_type']``, or pseudo-spots with known
        ``obsm['proportions']``.
    """

    spots: AnnData
    reference: AnnData

    def copy(self) -> SpotsAndReference:
        return SpotsAndReference(self.spots.copy(), self.reference.copy())

    def __repr__(self) -> str:
        return (
            f"SpotsAndReference(spots: {self.spots.n_obs} x {self.spots.n_vars}, "
            f"reference: {self.reference.n_obs} x {self.reference.n_vars})"
        )


TaskData = Union["AnnData", Modalities, SpotsAndReference]


def roles_of(data: TaskData) -> dict[str, AnnData]:
    """The AnnData objects of ``data`` by role name."""
    if isinstance(data, Modalities):
        return {"mod1": data.mod1, "mod2": data.mod2}
    if isinstance(data, SpotsAndReference):
        return {"spots": data.spots, "reference": data.reference}
    return {"adata": data}
