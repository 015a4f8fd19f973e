"""Readers for the file formats users bring, with errors that name the file and the problem.

Files are opened read-only; nothing here writes to the user's files.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dance.core.errors import DanceInputError

if TYPE_CHECKING:
    from anndata import AnnData

    from dance.core.containers import Modalities

__all__ = ["read_10x_h5", "read_any", "read_h5ad", "read_h5mu_modalities", "read_labelled_h5"]


def _not_readable(path: Path, what: str, exc: BaseException) -> DanceInputError:
    return DanceInputError(f"{path} is not a readable {what} file ({type(exc).__name__}: {str(exc)[:200]})", field=str(path))


def _exists(path: str | Path) -> Path:
    path = Path(path).expanduser()
    if not path.exists():
        raise DanceInputError(f"{path}: no such file or folder", field=str(path))
    return path


def read_h5ad(path: str | Path, *, backed: bool = False) -> AnnData:
    """Read an .h5ad file; a corrupt or foreign file gives a clear error."""
    import anndata as ad

    path = _exists(path)
    try:
        return ad.read_h5ad(path, backed="r" if backed else None)
    except Exception as exc:
        raise _not_readable(path, ".h5ad", exc) from exc


def read_h5mu_modalities(path: str | Path, mod1: str | None = None, mod2: str | None = None) -> Modalities:
    """Two modalities of a MuData .h5mu file (the first two unless named), without needing mudata."""
    import h5py
    from anndata.io import read_elem

    from dance.core.containers import Modalities

    path = _exists(path)
    try:
        with h5py.File(path, "r") as handle:
            if "mod" not in handle:
                raise KeyError("no 'mod' group: not a MuData file")
            available = list(handle["mod"].attrs.get("mod-order", list(handle["mod"].keys())))
            names = [mod1 or (available[0] if available else None), mod2 or (available[1] if len(available) > 1 else None)]
            for name in names:
                if name is None or name not in handle["mod"]:
                    raise DanceInputError(
                        f"{path} has modalities {available}; modality '{name}' is not among them", field=f"{path}:mod/{name}"
                    )
            first, second = (read_elem(handle["mod"][n]) for n in names)
    except DanceInputError:
        raise
    except Exception as exc:
        raise _not_readable(path, ".h5mu", exc) from exc
    return Modalities(first, second, (str(names[0]), str(names[1])))


def read_labelled_h5(path: str | Path, *, counts: str = "X", labels: str = "Y", label_key: str = "cell_type") -> AnnData:
    """The HDF5 layout of the scDeepCluster / scDCC benchmark files: ``X`` (cells x genes counts)
    and ``Y`` (integer labels, stored in ``obs[label_key]`` as strings)."""
    import anndata as ad
    import h5py
    import pandas as pd

    path = _exists(path)
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
        raise _not_readable(path, "HDF5 (X/Y)", exc) from exc
    adata = ad.AnnData(X=x.astype(np.float32))
    adata.obs_names = [f"cell_{i}" for i in range(adata.n_obs)]
    adata.var_names = [f"gene_{j}" for j in range(adata.n_vars)]
    if y is not None:
        values = y.astype(int) if np.allclose(y, np.round(y)) else y
        adata.obs[label_key] = pd.Categorical(values.astype(str))
    for key, value in extra.items():
        adata.obsm[key] = value.astype(np.float32)
    return adata


def read_10x_h5(path: str | Path) -> AnnData:
    """A Cell Ranger / Space Ranger ``filtered_feature_bc_matrix.h5`` (gene expression features)."""
    import scanpy as sc

    path = _exists(path)
    try:
        adata = sc.read_10x_h5(path)
    except Exception as exc:
        raise _not_readable(path, "10x HDF5", exc) from exc
    adata.var_names_make_unique()
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
        raise _not_readable(path, "HDF5", exc) from exc


def read_any(path: str | Path) -> Any:
    """Read a data file by its format: .h5ad, .h5mu, 10x .h5, scDCC-style .h5 (X/Y), or a
    Space Ranger output folder (handled by :func:`dance.core.data.visium.read_visium`)."""
    path = _exists(path)
    if path.is_dir():
        from dance.core.data.visium import read_visium

        return read_visium(path)
    suffix = path.suffix.lower()
    if suffix == ".h5ad":
        return read_h5ad(path)
    if suffix == ".h5mu":
        return read_h5mu_modalities(path)
    if suffix in (".h5", ".hdf5"):
        layout = _h5_layout(path)
        if layout == "10x":
            return read_10x_h5(path)
        if layout == "labelled":
            return read_labelled_h5(path)
        if layout == "h5mu":
            return read_h5mu_modalities(path)
        return read_h5ad(path)
    raise DanceInputError(
        f"{path}: unsupported file type '{suffix}'; expected .h5ad, .h5mu, a 10x .h5 or a Space Ranger output folder", field=str(path)
    )
