"""Reader for 10x Genomics Space Ranger (Visium) output folders.

Handles both layouts of the spot positions: Space Ranger < 2.0 writes
``spatial/tissue_positions_list.csv`` without a header; 2.0 and later write
``spatial/tissue_positions.csv`` with one. Files are looked for in ``<folder>/spatial/`` and in
``<folder>/`` itself (some tools flatten the layout).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dance.core.errors import DanceInputError

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = ["read_visium"]

POSITION_COLUMNS = ["barcode", "in_tissue", "array_row", "array_col", "pxl_row_in_fullres", "pxl_col_in_fullres"]


def _find(folder: Path, names: tuple[str, ...]) -> Path | None:
    for base in (folder / "spatial", folder):
        for name in names:
            if (base / name).is_file():
                return base / name
    return None


def read_positions(path: Path) -> object:
    """Spot positions of either layout, indexed by barcode."""
    import pandas as pd

    try:
        with open(path) as handle:
            first = handle.readline()
        has_header = first.lower().startswith("barcode")
        table = pd.read_csv(path, header=0 if has_header else None)
    except Exception as exc:
        raise DanceInputError(f"{path} is not a readable tissue positions CSV ({type(exc).__name__}: {exc})", field=str(path)) from exc
    if table.shape[1] != 6:
        raise DanceInputError(f"{path} has {table.shape[1]} columns; expected 6 ({', '.join(POSITION_COLUMNS)})", field=str(path))
    table.columns = POSITION_COLUMNS
    return table.set_index("barcode")


def read_visium(folder: str | Path, *, library_id: str | None = None, load_images: bool = True) -> AnnData:
    """Read a Space Ranger output folder into an AnnData with ``obsm['spatial']``.

    Parameters
    ----------
    folder
        Holds ``filtered_feature_bc_matrix.h5`` and ``spatial/`` (positions, scale factors,
        optional ``tissue_hires_image.png`` / ``tissue_lowres_image.png``).
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
    from dance.core.data.readers import read_10x_h5

    folder = Path(folder).expanduser()
    matrix = folder / "filtered_feature_bc_matrix.h5"
    if not matrix.is_file():
        raise DanceInputError(f"{folder} is not a Space Ranger output folder: filtered_feature_bc_matrix.h5 is missing", field=str(folder))
    positions_path = _find(folder, ("tissue_positions.csv", "tissue_positions_list.csv"))
    if positions_path is None:
        raise DanceInputError(
            f"{folder}: spot positions are missing (expected spatial/tissue_positions.csv or spatial/tissue_positions_list.csv)",
            field=str(folder),
        )
    adata = read_10x_h5(matrix)
    positions = read_positions(positions_path)
    missing = adata.obs_names.difference(positions.index)
    if len(missing):
        raise DanceInputError(
            f"{positions_path} lacks {len(missing)} barcode(s) of the matrix (e.g. {missing[0]})", field=str(positions_path)
        )
    positions = positions.loc[adata.obs_names]
    for column in ("in_tissue", "array_row", "array_col"):
        adata.obs[column] = positions[column].to_numpy()
    adata.obsm["spatial"] = positions[["pxl_col_in_fullres", "pxl_row_in_fullres"]].to_numpy(dtype=np.float64)

    library = library_id or folder.name
    info: dict[str, object] = {"images": {}, "scalefactors": {}, "metadata": {"source": str(folder)}}
    scalefactors = _find(folder, ("scalefactors_json.json",))
    if scalefactors is not None:
        try:
            info["scalefactors"] = json.loads(scalefactors.read_text())
        except ValueError as exc:
            raise DanceInputError(f"{scalefactors} is not valid JSON ({exc})", field=str(scalefactors)) from exc
    if load_images:
        import matplotlib.image as mpimg

        for resolution in ("hires", "lowres"):
            image = _find(folder, (f"tissue_{resolution}_image.png",))
            if image is not None:
                info["images"][resolution] = mpimg.imread(image)  # type: ignore[index]
    adata.uns["spatial"] = {library: info}
    return adata
