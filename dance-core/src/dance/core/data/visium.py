"""Reader for 10x Genomics Space Ranger (Visium) output folders.

Handles both layouts of the spot positions: Space Ranger < 2.0 writes
``spatial/tissue_positions_list.csv`` without a header; 2.0 and later write
``spatial/tissue_positions.csv`` with one (``tissue_positions.parquet`` from 3.0 is read when
pandas can read Parquet). The expression matrix is ``filtered_feature_bc_matrix.h5``, else the
``filtered_feature_bc_matrix/`` Matrix Market folder, else ``raw_feature_bc_matrix.h5`` restricted
to spots under tissue. Files are looked for in ``<folder>/``, ``<folder>/spatial/`` and the same
under ``<folder>/outs/`` (the folder Space Ranger writes them to).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dance.core.errors import DanceInputError

if TYPE_CHECKING:
    import pandas as pd
    from anndata import AnnData

__all__ = ["assemble_visium", "read_image", "read_positions", "read_visium", "visium_files"]

POSITION_COLUMNS = ["barcode", "in_tissue", "array_row", "array_col", "pxl_row_in_fullres", "pxl_col_in_fullres"]
IMAGE_NAMES = {"hires": "tissue_hires_image.png", "lowres": "tissue_lowres_image.png"}


def _bases(folder: Path) -> list[Path]:
    return [folder, folder / "spatial", folder / "outs", folder / "outs" / "spatial"]


def _find(folder: Path, names: tuple[str, ...], *, directory: bool = False) -> Path | None:
    for base in _bases(folder):
        for name in names:
            candidate = base / name
            if candidate.is_dir() if directory else candidate.is_file():
                return candidate
    return None


def read_positions(path: str | Path) -> pd.DataFrame:
    """Spot positions of any Space Ranger layout, indexed by barcode.

    Without a header (Space Ranger < 2.0, also spatialLIBD's ``tissue_positions_list.txt``), with
    one (2.0+), or Parquet (3.0+). Columns: ``in_tissue``, ``array_row``, ``array_col``,
    ``pxl_row_in_fullres``, ``pxl_col_in_fullres``.
    """
    import pandas as pd

    path = Path(path)
    try:
        if path.suffix.lower() == ".parquet":
            table = pd.read_parquet(path)
        else:
            with open(path) as handle:
                first = handle.readline()
            has_header = first.lower().startswith("barcode")
            table = pd.read_csv(path, header=0 if has_header else None)
    except Exception as exc:
        raise DanceInputError(f"{path} is not a readable tissue positions file ({type(exc).__name__}: {exc})", field=str(path)) from exc
    if table.shape[1] != 6:
        raise DanceInputError(f"{path} has {table.shape[1]} columns; expected 6 ({', '.join(POSITION_COLUMNS)})", field=str(path))
    table.columns = POSITION_COLUMNS
    table["barcode"] = table["barcode"].astype(str)
    return table.set_index("barcode")


def read_image(path: str | Path) -> np.ndarray:
    """An image file (PNG, JPEG, TIFF) as an array, or a clear error."""
    import matplotlib.image as mpimg

    try:
        return np.asarray(mpimg.imread(path))
    except Exception as exc:
        raise DanceInputError(f"{path} is not a readable image ({type(exc).__name__}: {exc})", field=str(path)) from exc


def assemble_visium(
    adata: AnnData,
    positions: pd.DataFrame,
    *,
    library_id: str,
    scalefactors: Mapping[str, Any] | None = None,
    images: Mapping[str, np.ndarray] | None = None,
    source: str = "",
    positions_name: str = "tissue positions",
    keep_in_tissue_only: bool = False,
) -> AnnData:
    """Attach Space Ranger spot positions, scale factors and images to a spots x genes AnnData.

    ``obsm['spatial']`` = full-resolution pixel (x = column, y = row), as scanpy and squidpy
    expect; ``obs`` gains ``in_tissue``, ``array_row``, ``array_col``;
    ``uns['spatial'][library_id]`` holds ``scalefactors`` and ``images``.
    """
    missing = adata.obs_names.difference(positions.index)
    if len(missing):
        raise DanceInputError(f"{positions_name} lacks {len(missing)} barcode(s) of the matrix (e.g. {missing[0]})", field=positions_name)
    positions = positions.loc[adata.obs_names]
    if keep_in_tissue_only:
        under = positions["in_tissue"].to_numpy() == 1
        if not under.any():
            raise DanceInputError(f"{positions_name} marks no spot of the matrix as under tissue", field=positions_name)
        adata = adata[under].copy()
        positions = positions.loc[adata.obs_names]
    for column in ("in_tissue", "array_row", "array_col"):
        adata.obs[column] = positions[column].to_numpy()
    adata.obsm["spatial"] = positions[["pxl_col_in_fullres", "pxl_row_in_fullres"]].to_numpy(dtype=np.float64)
    adata.uns["spatial"] = {
        library_id: {"images": dict(images or {}), "scalefactors": dict(scalefactors or {}), "metadata": {"source": source}}
    }
    return adata


def _read_scalefactors(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise DanceInputError(f"{path} is not valid JSON ({exc})", field=str(path)) from exc


def visium_files(folder: str | Path, *, load_images: bool = True) -> list[Path]:
    """The files :func:`read_visium` reads from ``folder`` (matrix, positions, scale factors,
    images), in a fixed order; a Matrix Market folder contributes its files."""
    folder = Path(folder).expanduser()
    matrix = _find(folder, ("filtered_feature_bc_matrix.h5",))
    mtx_folder = None if matrix is not None else _find(folder, ("filtered_feature_bc_matrix",), directory=True)
    if matrix is None and mtx_folder is None:
        matrix = _find(folder, ("raw_feature_bc_matrix.h5",))
    found: list[Path] = []
    if matrix is not None:
        found.append(matrix)
    elif mtx_folder is not None:
        found.extend(sorted(p for p in mtx_folder.iterdir() if p.is_file()))
    names: tuple[str, ...] = ("tissue_positions.csv", "tissue_positions_list.csv", "tissue_positions.parquet")
    positions = _find(folder, names)
    if positions is not None:
        found.append(positions)
    for extra in ("scalefactors_json.json", *(IMAGE_NAMES.values() if load_images else ())):
        path = _find(folder, (extra,))
        if path is not None:
            found.append(path)
    return found


def read_visium(folder: str | Path, *, library_id: str | None = None, load_images: bool = True) -> AnnData:
    """Read a Space Ranger output folder into an AnnData with ``obsm['spatial']``.

    Parameters
    ----------
    folder
        Holds ``filtered_feature_bc_matrix.h5`` (or the ``filtered_feature_bc_matrix/`` Matrix
        Market folder, or ``raw_feature_bc_matrix.h5``) and ``spatial/`` (positions, scale
        factors, optional ``tissue_hires_image.png`` / ``tissue_lowres_image.png``); directly or
        under ``outs/``.
    library_id
        Key under ``uns['spatial']``; the folder name by default.
    load_images
        Read the hires/lowres images when present.

    Returns
    -------
    AnnData
        Counts in ``X``; ``obs`` with ``in_tissue``, ``array_row``, ``array_col``;
        ``obsm['spatial']`` = full-resolution pixel (x = column, y = row), as scanpy and squidpy
        expect; ``uns['spatial'][library_id]`` with ``scalefactors`` and ``images``.
    """
    from dance.core.data.tenx import read_10x_h5

    folder = Path(folder).expanduser()
    positions_path = _find(folder, ("tissue_positions.csv", "tissue_positions_list.csv", "tissue_positions.parquet"))
    matrix = _find(folder, ("filtered_feature_bc_matrix.h5",))
    mtx_folder = _find(folder, ("filtered_feature_bc_matrix",), directory=True)
    raw = _find(folder, ("raw_feature_bc_matrix.h5",))
    if matrix is None and mtx_folder is None and raw is None:
        raise DanceInputError(
            f"{folder} is not a Space Ranger output folder: filtered_feature_bc_matrix.h5 is missing "
            "(also looked for filtered_feature_bc_matrix/ and raw_feature_bc_matrix.h5, here and under outs/)",
            field=str(folder),
        )
    if positions_path is None:
        raise DanceInputError(
            f"{folder}: spot positions are missing (expected spatial/tissue_positions.csv or spatial/tissue_positions_list.csv)",
            field=str(folder),
        )
    if matrix is not None:
        adata = read_10x_h5(matrix)
    elif mtx_folder is not None:
        import scanpy as sc

        try:
            adata = sc.read_10x_mtx(mtx_folder)
        except Exception as exc:
            raise DanceInputError(
                f"{mtx_folder} is not a readable 10x Matrix Market folder ({type(exc).__name__}: {exc})", field=str(mtx_folder)
            ) from exc
        adata.var_names_make_unique()
    else:
        assert raw is not None
        adata = read_10x_h5(raw)
    images: dict[str, np.ndarray] = {}
    if load_images:
        for resolution, name in IMAGE_NAMES.items():
            image = _find(folder, (name,))
            if image is not None:
                images[resolution] = read_image(image)
    return assemble_visium(
        adata,
        read_positions(positions_path),
        library_id=library_id or folder.name,
        scalefactors=_read_scalefactors(_find(folder, ("scalefactors_json.json",))),
        images=images,
        source=str(folder),
        positions_name=str(positions_path),
        keep_in_tissue_only=matrix is None and mtx_folder is None,
    )
