"""Loaders of dance-spatial's datasets: ``loader(files, task)`` -> the task's input."""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from dance.core.containers import SpotsAndReference
from dance.core.data.readers import read_h5ad
from dance.core.data.visium import read_visium
from dance.core.errors import DanceInputError


def _file(files: dict[str, Path], name: str) -> Path:
    for rel, path in files.items():
        if rel.endswith(name):
            return path
    raise DanceInputError(f"dataset file {name} is missing from {sorted(files)}", field=name)


def load_spots(files: dict[str, Path], task: str) -> ad.AnnData:
    """One .h5ad of spots with obsm['spatial'] (and labels, if annotated)."""
    (path,) = files.values()
    return read_h5ad(path)


def load_mouse_olfactory_bulb(files: dict[str, Path], task: str) -> ad.AnnData:
    """STdeconvolve's mOB spots; the two unannotated spots (stored as the string 'nan') become missing."""
    adata = load_spots(files, task)
    layer = adata.obs["layer"].astype(str)
    adata.obs["layer"] = pd.Categorical(layer.where(layer != "nan"))
    return adata


def load_visium_folder(files: dict[str, Path], task: str) -> ad.AnnData:
    """A Space Ranger output folder (all its files live in one folder)."""
    folder = _file(files, "filtered_feature_bc_matrix.h5").parent
    return read_visium(folder)


def _proportions_frame(adata: ad.AnnData) -> None:
    value = adata.obsm["proportions"]
    if not isinstance(value, pd.DataFrame):
        types = [str(t) for t in adata.uns["cell_types"]]
        adata.obsm["proportions"] = pd.DataFrame(np.asarray(value, dtype=float), index=adata.obs_names, columns=types)


def load_dstg(files: dict[str, Path], task: str) -> SpotsAndReference:
    """DSTG synthetic data: spots (example 1) with truth, pseudo-spot reference (example 0) with known proportions."""
    reference = read_h5ad(_file(files, "DSTG_example_0.h5ad"))
    spots = read_h5ad(_file(files, "DSTG_example_1.h5ad"))
    for adata in (reference, spots):
        _proportions_frame(adata)
    return SpotsAndReference(spots, reference)


def _pseudospots(cells: ad.AnnData, protocol: str, n_spots: int) -> SpotsAndReference:
    """Split labelled cells in half (seed 0); pool one half into pseudo-spots, keep the other as reference."""
    from dance.spatial.pseudospots import dstg_pseudospots, grid_pseudospots, split_reference

    cells.obs["cell_type"] = cells.obs["cell_type"].astype(str)
    pool, reference = split_reference(cells, seed=0)
    types = sorted(cells.obs["cell_type"].unique())
    build = dstg_pseudospots if protocol == "dstg" else grid_pseudospots
    spots = build(pool, n_spots=n_spots, cell_types=types, seed=0)
    return SpotsAndReference(spots, reference)


def load_pseudospots(files: dict[str, Path], task: str) -> SpotsAndReference:
    """Pseudo-spots (DSTG protocol) pooled from half of a labelled reference; the other half is the reference.

    Seeded (seed 0) so the dataset is the same on every machine.
    """
    (path,) = files.values()
    return _pseudospots(read_h5ad(path), "dstg", 300)


def load_grid_pseudospots(files: dict[str, Path], task: str) -> SpotsAndReference:
    """Grid pseudo-spots with spatially smooth proportions (seed 0) from half of a labelled reference."""
    (path,) = files.values()
    return _pseudospots(read_h5ad(path), "grid", 400)


def _cbmc(files: dict[str, Path]) -> ad.AnnData:
    from dance.core.data.readers import read_labelled_h5

    (path,) = files.values()
    cells = read_labelled_h5(path)
    cells.obs["cell_type"] = "cbmc_" + cells.obs["cell_type"].astype(str)
    return cells


def load_cbmc_pseudospots(files: dict[str, Path], task: str) -> SpotsAndReference:
    """1,000 DSTG-protocol pseudo-spots from half of the CBMC cells; the other half is the reference."""
    return _pseudospots(_cbmc(files), "dstg", 1000)


def load_cbmc_grid_pseudospots(files: dict[str, Path], task: str) -> SpotsAndReference:
    """400 grid pseudo-spots from half of the CBMC cells; the other half is the reference."""
    return _pseudospots(_cbmc(files), "grid", 400)


def load_dlpfc(files: dict[str, Path], task: str) -> ad.AnnData:
    """One spatialLIBD DLPFC section: counts, spot positions, scale factors, hires image and the
    manual layer of each spot (``obs['layer']``; missing for unannotated spots)."""
    import json

    from dance.core.data.readers import read_10x_h5
    from dance.core.data.visium import assemble_visium, read_image, read_positions

    matrix = _file(files, "_filtered_feature_bc_matrix.h5")
    sample = matrix.name.split("_", 1)[0]
    positions = _file(files, "_tissue_positions_list.txt")
    images = {}
    hires = [p for rel, p in files.items() if rel.endswith("_tissue_hires_image.png")]
    if hires:
        images["hires"] = read_image(hires[0])
    try:
        scalefactors = json.loads(_file(files, "_scalefactors_json.json").read_text())
    except ValueError as exc:
        raise DanceInputError(f"the scale factors of DLPFC section {sample} are not valid JSON ({exc})", field="scalefactors") from exc
    adata = assemble_visium(
        read_10x_h5(matrix),
        read_positions(positions),
        library_id=sample,
        scalefactors=scalefactors,
        images=images,
        source=f"spatialLIBD DLPFC {sample}",
        positions_name=str(positions),
    )
    layers = pd.read_csv(
        _file(files, "barcode_level_layer_map.tsv"), sep="\t", header=None, names=["barcode", "sample", "layer"], dtype=str
    )
    layers = layers[layers["sample"] == sample].set_index("barcode")["layer"]
    if layers.empty:
        raise DanceInputError(f"barcode_level_layer_map.tsv has no annotation for section {sample}", field="layer")
    adata.obs["layer"] = pd.Categorical(layers.reindex(adata.obs_names).to_numpy())
    return adata


def load_spots_and_reference(files: dict[str, Path], task: str) -> SpotsAndReference:
    """spacexr vignette data: spots or beads without truth, and a labelled reference."""
    spots = read_h5ad(next(p for rel, p in files.items() if "/spacexr_ref_" not in rel))
    reference = read_h5ad(next(p for rel, p in files.items() if "/spacexr_ref_" in rel))
    return SpotsAndReference(spots, reference)
