"""Readers for the file formats users bring, with errors that name the file and the problem.

Files are opened read-only; nothing here writes to the user's files.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dance.core.data.files import existing_path, not_readable
from dance.core.data.tenx import read_10x_h5
from dance.core.errors import DanceInputError

if TYPE_CHECKING:
    from anndata import AnnData

    from dance.core.containers import Modalities

__all__ = [
    "choose_modalities",
    "h5mu_modality_names",
    "is_h5mu",
    "read_10x_h5",
    "read_any",
    "read_h5ad",
    "read_h5mu_modalities",
    "read_labelled_h5",
]


def read_h5ad(path: str | Path, *, backed: bool = False) -> AnnData:
    """Read an .h5ad file; a corrupt or foreign file gives a clear error."""
    import anndata as ad

    path = existing_path(path)
    try:
        return ad.read_h5ad(path, backed="r" if backed else None)
    except Exception as exc:
        raise not_readable(path, ".h5ad", exc) from exc


#: modality names recognised for the default pair, compared after lower-casing and removing
#: spaces, underscores and hyphens (so "Gene Expression", "gene_expression" and "GEX" all match)
RNA_NAMES = ("rna", "gex", "geneexpression")
#: candidates for mod2, in order of preference: protein (CITE-seq) first, then chromatin (multiome)
MOD2_NAMES = (("adt", "prot", "protein", "proteins", "antibodycapture"), ("atac", "peaks", "chromatin"))


def _canonical(name: str) -> str:
    return "".join(ch for ch in str(name).lower() if ch not in " _-")


def choose_modalities(
    available: list[str], mod1: str | None = None, mod2: str | None = None, *, source: str = "the file"
) -> tuple[str, str]:
    """The ``(mod1, mod2)`` pair of modality names to read from a multi-modal file.

    A named modality must be one of ``available`` (exact name, else a unique case-insensitive
    match). An unnamed one gets the usual default: mod1 is the RNA modality (``rna``, ``gex``,
    ``Gene Expression``, ...), mod2 the protein modality (``adt``, ``prot``, ``protein``,
    ``Antibody Capture``) or else the chromatin one (``atac``, ``peaks``); never the first two
    modalities by position, which would silently pair the wrong ones (e.g. RNA with hashtags).

    Parameters
    ----------
    available
        The modality names the file holds, in its order.
    mod1, mod2
        Names the user asked for (``--mod1`` / ``--mod2``), or None for the default.
    source
        The file, for messages.

    Returns
    -------
    tuple of str
        The two names as spelled in the file.

    Raises
    ------
    DanceInputError
        On an unknown name, the same modality twice, or no sensible default; the message lists
        the file's modalities and says to pass ``--mod1`` / ``--mod2``.
    """
    listing = ", ".join(map(str, available)) or "none"

    def named(name: str, flag: str) -> str:
        if name in available:
            return name
        matches = [a for a in available if _canonical(a) == _canonical(name)]
        if len(matches) == 1:
            return matches[0]
        raise DanceInputError(f"{flag} '{name}': {source} has no such modality (its modalities: {listing})", field=flag)

    def default(flag: str, groups: tuple[tuple[str, ...], ...], taken: str | None) -> str:
        for group in groups:
            found = [a for a in available if _canonical(a) in group and a != taken]
            if found:
                return found[0]
        wanted = (
            "an RNA modality (rna, gex, Gene Expression)" if flag == "--mod1" else "a protein (adt, prot) or ATAC (atac, peaks) modality"
        )
        other = "--mod2" if flag == "--mod1" else "--mod1"
        besides = f" besides '{taken}' ({other})" if taken is not None else ""
        raise DanceInputError(
            f"{source} has modalities {listing} and none{besides} is {wanted} to use as {flag} by default; "
            f"pass --mod1 NAME --mod2 NAME to choose the two modalities",
            field=flag,
        )

    first = named(mod1, "--mod1") if mod1 is not None else None
    second = named(mod2, "--mod2") if mod2 is not None else None
    if first is None:
        first = default("--mod1", (RNA_NAMES,), second)
    if second is None:
        second = default("--mod2", MOD2_NAMES, first)
    if first == second:
        raise DanceInputError(
            f"--mod1 and --mod2 both name modality '{first}'; choose two different modalities of {source} ({listing})", field="--mod2"
        )
    return first, second


def h5mu_modality_names(path: str | Path) -> list[str]:
    """The modality names of a MuData .h5mu file, in its ``mod-order``."""
    import h5py

    path = existing_path(path)
    try:
        with h5py.File(path, "r") as handle:
            if "mod" not in handle:
                raise KeyError("no 'mod' group: not a MuData file")
            group = handle["mod"]
            order = [str(n.decode() if isinstance(n, bytes) else n) for n in group.attrs.get("mod-order", [])]
            return [n for n in order if n in group] + sorted(n for n in group if n not in order)
    except Exception as exc:
        raise not_readable(path, ".h5mu", exc) from exc


def read_h5mu_modalities(path: str | Path, mod1: str | None = None, mod2: str | None = None) -> Modalities:
    """Two modalities of a MuData .h5mu file, without needing mudata.

    Parameters
    ----------
    path
        The .h5mu file.
    mod1, mod2
        Modality names; each unnamed one gets the usual default (RNA as mod1, protein or else
        ATAC as mod2; see :func:`choose_modalities`).

    Returns
    -------
    Modalities
        The two modalities, with ``names`` as spelled in the file.
    """
    import h5py
    from anndata.io import read_elem

    from dance.core.containers import Modalities

    path = existing_path(path)
    names = choose_modalities(h5mu_modality_names(path), mod1, mod2, source=str(path))
    try:
        with h5py.File(path, "r") as handle:
            first, second = (read_elem(handle["mod"][n]) for n in names)
    except Exception as exc:
        raise not_readable(path, ".h5mu", exc) from exc
    return Modalities(first, second, names)


def read_labelled_h5(path: str | Path, *, counts: str = "X", labels: str = "Y", label_key: str = "cell_type") -> AnnData:
    """The HDF5 layout of the scDeepCluster / scDCC benchmark files: ``X`` (cells x genes counts)
    and ``Y`` (integer labels, stored in ``obs[label_key]`` as strings)."""
    import anndata as ad
    import h5py
    import pandas as pd

    path = existing_path(path)
    try:
        with h5py.File(path, "r") as handle:
            x = np.asarray(handle[counts][()])
            y = np.asarray(handle[labels][()]) if labels in handle else None
            extra = {
                k: np.asarray(handle[k][()])
                for k in handle
                if k not in (counts, labels) and handle[k].ndim == 2 and handle[k].shape[0] == x.shape[0]
            }
    except Exception as exc:
        raise not_readable(path, "HDF5 (X/Y)", exc) from exc
    adata = ad.AnnData(X=x.astype(np.float32))
    adata.obs_names = [f"cell_{i}" for i in range(adata.n_obs)]
    adata.var_names = [f"gene_{j}" for j in range(adata.n_vars)]
    if y is not None:
        values = y.astype(int) if np.allclose(y, np.round(y)) else y
        adata.obs[label_key] = pd.Categorical(values.astype(str))
    for key, value in extra.items():
        adata.obsm[key] = value.astype(np.float32)
    return adata


def _h5_layout(path: Path) -> str:
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            if "matrix" in handle:
                return "10x"
            if "X" in handle and isinstance(handle["X"], h5py.Dataset):
                return "labelled"
            if "mod" in handle:
                return "h5mu"
            return "h5ad"
    except Exception as exc:
        raise not_readable(path, "HDF5", exc) from exc


def is_h5mu(path: str | Path) -> bool:
    """Whether ``path`` is a MuData file (``.h5mu``, or an HDF5 ``.h5`` holding modalities)."""
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix == ".h5mu":
        return True
    return path.is_file() and suffix in (".h5", ".hdf5") and _h5_layout(path) == "h5mu"


def read_any(path: str | Path, *, modalities: tuple[str | None, str | None] | None = None) -> Any:
    """Read a data file by its format: .h5ad, .h5mu, 10x .h5, scDCC-style .h5 (X/Y), or a
    Space Ranger output folder (handled by :func:`dance.core.data.visium.read_visium`).

    Parameters
    ----------
    path
        The file or folder.
    modalities
        ``(mod1, mod2)`` names for a MuData file (either may be None for its default, see
        :func:`choose_modalities`); naming modalities for any other file is an error.
    """
    path = existing_path(path)
    if modalities is not None and not is_h5mu(path):
        kind = "folder" if path.is_dir() else f"'{path.suffix}' file"
        raise DanceInputError(
            f"--mod1/--mod2 choose the modalities of an .h5mu file; {path} is a {kind} (give the modalities' own files as --data and --data2 instead)",
            field="--mod1",
        )
    if path.is_dir():
        from dance.core.data.visium import read_visium

        return read_visium(path)
    mod1, mod2 = modalities or (None, None)
    suffix = path.suffix.lower()
    if suffix == ".h5ad":
        return read_h5ad(path)
    if suffix == ".h5mu":
        return read_h5mu_modalities(path, mod1, mod2)
    if suffix in (".h5", ".hdf5"):
        layout = _h5_layout(path)
        if layout == "10x":
            return read_10x_h5(path)
        if layout == "labelled":
            return read_labelled_h5(path)
        if layout == "h5mu":
            return read_h5mu_modalities(path, mod1, mod2)
        return read_h5ad(path)
    raise DanceInputError(
        f"{path}: unsupported file type '{suffix}'; expected .h5ad, .h5mu, a 10x .h5 or a Space Ranger output folder", field=str(path)
    )
