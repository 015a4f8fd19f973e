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


def load_pseudospots(files: dict[str, Path], task: str) -> SpotsAndReference:
    """Pseudo-spots (DSTG protocol) pooled from half of a labelled reference; the other half is the reference.

    Seeded (seed 0) so the dataset is the same on every machine.
    """
    from dance.spatial.pseudospots import dstg_pseudospots, split_reference

    (path,) = files.values()
    cells = read_h5ad(path)
    pool, reference = split_reference(cells, seed=0)
    types = sorted(cells.obs["cell_type"].astype(str).unique())
    spots = dstg_pseudospots(pool, n_spots=300, cell_types=types, seed=0)
    return SpotsAndReference(spots, reference)


def load_spots_and_reference(files: dict[str, Path], task: str) -> SpotsAndReference:
    """spacexr vignette data: spots or beads without truth, and a labelled reference."""
    spots = read_h5ad(next(p for rel, p in files.items() if "/spacexr_ref_" not in rel))
    reference = read_h5ad(next(p for rel, p in files.items() if "/spacexr_ref_" in rel))
    return SpotsAndReference(spots, reference)
