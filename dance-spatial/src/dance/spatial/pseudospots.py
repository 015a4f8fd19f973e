"""Pseudo-spots with known cell-type proportions, made by pooling real labelled cells.

Two protocols:

* :func:`dstg_pseudospots` follows DSTG (Song & Su 2021, Brief Bioinform 22:bbaa414): each spot
  pools the counts of 2 to 8 cells drawn at random from a labelled single-cell set, and its true
  proportions are the fractions of each type among those cells. Spots have no spatial structure.
* :func:`grid_pseudospots` follows the synthetic designs of CARD (Ma & Zhou 2022, Nat Biotechnol
  40:1349-1359) and SPOTlight (Elosua-Bayes et al. 2021, Nucleic Acids Res 49:e50): spots on a
  regular grid fall into spatial domains, each dominated by one cell type, so proportions vary
  smoothly across the tissue; each spot's cells are drawn with its domain's composition (plus
  Dirichlet noise) and their counts summed.

In both, the truth is the composition of the cells actually pooled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = ["dstg_pseudospots", "grid_pseudospots", "split_reference"]


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
    # rows run downwards (y = -row), so plots read in spot order from the top left and an incomplete last row
    # sits at the bottom, as the task's layout of spots without coordinates does
    spots.obsm["spatial"] = np.column_stack([np.arange(n_spots) % side, -(np.arange(n_spots) // side)]).astype(np.float64)
    return spots


def grid_pseudospots(
    cells: AnnData,
    *,
    n_spots: int = 400,
    n_domains: int = 5,
    dominant: float = 0.7,
    smoothness: float = 1.5,
    concentration: float = 20.0,
    min_cells: int = 5,
    max_cells: int = 15,
    label_key: str = "cell_type",
    cell_types: list[str] | None = None,
    seed: int = 0,
) -> AnnData:
    """Spots on a square grid whose cell-type proportions vary smoothly in space.

    ``n_domains`` centres are placed uniformly on the grid, each with a mean composition that
    gives ``dominant`` to one cell type (a different one per domain while types last) and
    spreads the rest by a flat Dirichlet. A spot's expected composition mixes the domain
    compositions with weights ``exp(-distance to centre / smoothness)`` (distances in grid
    pitches), so proportions change over a band a few spots wide between domains; its actual
    composition is drawn from a Dirichlet with ``concentration`` x the expected one. It pools
    ``min_cells`` to ``max_cells`` cells drawn with that composition (with replacement within
    a type), and its truth is the fraction of each type among the pooled cells.

    Returns an AnnData with summed counts in ``X``, the truth in ``obsm['proportions']``, the
    expected composition in ``obsm['expected_proportions']``, the nearest domain in
    ``obs['domain']``, the number of cells in ``obs['n_cells']`` and grid coordinates in
    ``obsm['spatial']``.
    """
    import anndata as ad

    rng = np.random.default_rng(seed)
    labels = cells.obs[label_key].astype(str).to_numpy()
    types = sorted(set(labels)) if cell_types is None else list(cell_types)
    available = [t for t in types if (labels == t).any()]
    n_types = len(types)
    side = int(np.ceil(np.sqrt(n_spots)))
    coords = np.column_stack([np.arange(n_spots) % side, np.arange(n_spots) // side]).astype(np.float64)
    centres = rng.uniform(0, side - 1, size=(n_domains, 2))
    order = rng.permutation(available)
    means = np.zeros((n_domains, n_types))
    for d in range(n_domains):
        rest = rng.dirichlet(np.ones(len(available)))
        for t, share in zip(available, rest, strict=True):
            means[d, types.index(t)] = (1 - dominant) * share
        means[d, types.index(order[d % len(order)])] += dominant
    distances = np.linalg.norm(coords[:, None, :] - centres[None, :, :], axis=2)
    weights = np.exp(-(distances - distances.min(axis=1, keepdims=True)) / smoothness)
    weights /= weights.sum(axis=1, keepdims=True)
    expected = weights @ means
    members = {t: np.flatnonzero(labels == t) for t in available}
    counts = sp.csr_matrix(cells.X, dtype=np.float32)
    sizes = rng.integers(min_cells, max_cells + 1, size=n_spots)
    rows, picks, truth = [], [], np.zeros((n_spots, n_types))
    present = np.array([t in members for t in types])
    for s_idx in range(n_spots):
        composition = rng.dirichlet(concentration * expected[s_idx] + 1e-6) * present
        per_type = rng.multinomial(sizes[s_idx], composition / composition.sum())
        for t_idx, n in enumerate(per_type):
            if n == 0 or types[t_idx] not in members:
                continue
            picks.append(rng.choice(members[types[t_idx]], size=n, replace=True))
            rows.append(np.full(n, s_idx))
            truth[s_idx, t_idx] = n
    rows_arr, picks_arr = np.concatenate(rows), np.concatenate(picks)
    pooling = sp.csr_matrix((np.ones(len(picks_arr), dtype=np.float32), (rows_arr, picks_arr)), shape=(n_spots, cells.n_obs))
    names = [f"gridspot_{i}" for i in range(n_spots)]
    spots = ad.AnnData(
        X=(pooling @ counts).tocsr(),
        obs=pd.DataFrame({"n_cells": truth.sum(axis=1).astype(int), "domain": weights.argmax(axis=1).astype(str)}, index=names),
        var=cells.var[[]].copy(),
    )
    spots.obsm["proportions"] = pd.DataFrame(truth / truth.sum(axis=1, keepdims=True), index=names, columns=types)
    spots.obsm["expected_proportions"] = pd.DataFrame(expected, index=names, columns=types)
    spots.obsm["spatial"] = coords
    return spots
