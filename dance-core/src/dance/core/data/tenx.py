"""Reading Cell Ranger / Space Ranger HDF5 matrices."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dance.core.data.files import existing_path, not_readable

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = ["read_10x_h5"]


def read_10x_h5(path: str | Path) -> AnnData:
    """A Cell Ranger / Space Ranger ``filtered_feature_bc_matrix.h5`` (gene expression features)."""
    import scanpy as sc

    path = existing_path(path)
    try:
        adata = sc.read_10x_h5(path)
    except Exception as exc:
        raise not_readable(path, "10x HDF5", exc) from exc
    adata.var_names_make_unique()
    return adata
