"""Pseudo-spots with known cell-type proportions, made by pooling real labelled cells.

``dstg_pseudospots`` follows DSTG (Song & Su 2021, Brief Bioinform 22:bbaa414): each spot pools
the counts of 2 to 8 cells drawn at random from a labelled single-cell set, and its true
proportions are the fractions of each type among those cells.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = ["dstg_pseudospots", "split_reference"]


def split_reference(cells: AnnData, *, label_key: str = "cell_type", fraction: float = 0.5, seed: int = 0) -> tuple[AnnData, AnnData]:
    """Split labelled cells into (pool for pseudo-spots, held-out reference), stratified by type.

    Types with a single cell stay in the reference, so every pooled type is also in the reference.
    """
    rng = np.random.default_rng(seed)
    labels = cells.obs[label_key].astype(str).to_numpy()
    pool = np.zeros(cells.n_obs, dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < 2:
            continue
        n_pool = min(len(members) - 1, max(1, round(fraction * len(members))))
        pool[rng.choice(members, size=n_pool, replace=False)] = True
    return cells[pool].copy(), cells[~pool].copy()


def dstg_pseudospots(
    cells: AnnData,
    *,
    n_spots: int = 300,
    min_cells: int = 2,
    max_cells: int = 8,
    label_key: str = "cell_type",
    cell_types: list[str] | None = None,
    seed: int = 0,
) -> AnnData:
    """Spots pooling the raw counts of ``min_cells``-``max_cells`` random cells each.

    Returns an AnnData with summed counts in ``X``, the true proportions in ``obsm['proportions']``
    (one column per type of ``cell_types``, default the types of ``cells``), the number of cells
    per spot in ``obs['n_cells']`` and grid coordinates in ``obsm['spatial']`` (for plotting; the
    DSTG protocol has no spatial structure).
    """
    import anndata as ad

    rng = np.random.default_rng(seed)
    labels = cells.obs[label_key].astype(str).to_numpy()
    types = sorted(set(labels)) if cell_types is None else list(cell_types)
    counts = sp.csr_matrix(cells.X, dtype=np.float32)
    sizes = rng.integers(min_cells, max_cells + 1, size=n_spots)
    rows, picks = np.repeat(np.arange(n_spots), sizes), rng.integers(0, cells.n_obs, size=int(sizes.sum()))
    pooling = sp.csr_matrix((np.ones(len(picks), dtype=np.float32), (rows, picks)), shape=(n_spots, cells.n_obs))
    spots_x = (pooling @ counts).tocsr()
    type_index = {t: i for i, t in enumerate(types)}
    membership = sp.csr_matrix(
        (np.ones(cells.n_obs), (np.arange(cells.n_obs), [type_index[label] for label in labels])), shape=(cells.n_obs, len(types))
    )
    proportions = np.asarray((pooling @ membership).todense()) / sizes[:, None]
    names = [f"pseudospot_{i}" for i in range(n_spots)]
    spots = ad.AnnData(X=spots_x, obs=pd.DataFrame({"n_cells": sizes}, index=names), var=cells.var[[]].copy())
    spots.obsm["proportions"] = pd.DataFrame(proportions, index=names, columns=types)
    side = int(np.ceil(np.sqrt(n_spots)))
    spots.obsm["spatial"] = np.column_stack([np.arange(n_spots) % side, np.arange(n_spots) // side]).astype(np.float64)
    return spots
