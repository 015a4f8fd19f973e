"""Synthetic PCA-like embeddings of any size, with known cell types and batch effects.

For timing and memory benchmarks of integration methods at atlas scale (1 million to 100 million
cells), where no real labelled data of that size fits on a test machine. The generator draws cells
in fixed blocks of :data:`BLOCK` cells, each from its own seeded random stream, so

* :func:`make_embedding` (in memory) and :func:`write_embedding` (on disk, written block by block,
  never holding the whole matrix) give bit-identical values for the same arguments, and
* any contiguous range of cells can be regenerated on its own (:func:`iter_blocks`).

The model (one :class:`EmbeddingDesign` per seed):

* cell types sit in a two-level hierarchy: ``ceil(sqrt(n_types))`` lineage centres and types
  around them, so related types are closer than unrelated ones; coordinates have a decaying scale
  along the dimensions, as principal components do;
* each type has isotropic noise plus two type-specific axes of larger spread (elongated clusters);
* each batch adds a global shift, a smaller batch-and-type-specific shift and a noise scaling
  (batch effects that are mostly, not purely, a translation), and has its own cell-type
  proportions (Dirichlet around shared ones) and size (batches are unequal).

The truth (``obs['batch']``, ``obs['cell_type']``) is known for every cell, so scIB metrics can be
computed on any subset.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = ["BLOCK", "EmbeddingDesign", "iter_blocks", "make_design", "make_embedding", "write_embedding"]

#: cells per generator block (each block has its own random stream)
BLOCK = 1 << 16


@dataclass(frozen=True)
class EmbeddingDesign:
    """The fixed part of a synthetic embedding: type centres, batch effects, proportions."""

    n_dims: int
    n_batches: int
    n_types: int
    seed: int
    dim_scale: np.ndarray  # (n_dims,)
    centres: np.ndarray  # (n_types, n_dims)
    type_axes: np.ndarray  # (n_types, 2, n_dims), scaled directions of extra spread
    batch_shift: np.ndarray  # (n_batches, n_dims)
    batch_type_shift: np.ndarray  # (n_batches, n_types, n_dims)
    batch_noise: np.ndarray  # (n_batches,)
    batch_probs: np.ndarray  # (n_batches,)
    type_probs: np.ndarray  # (n_batches, n_types)

    @property
    def batch_names(self) -> list[str]:
        return [f"batch_{b}" for b in range(self.n_batches)]

    @property
    def type_names(self) -> list[str]:
        return [f"type_{t}" for t in range(self.n_types)]


def make_design(
    n_dims: int = 50,
    n_batches: int = 4,
    n_types: int = 12,
    *,
    seed: int = 0,
    batch_effect: float = 4.0,
    type_separation: float = 3.0,
    noise: float = 1.0,
) -> EmbeddingDesign:
    """Draw the design of a synthetic embedding.

    Parameters
    ----------
    n_dims, n_batches, n_types
        Dimensions, batches and cell types.
    seed
        Seed of every random choice (design and cells).
    batch_effect
        Norm (in units of the within-type noise of the first dimension) of each batch's global shift.
    type_separation
        Spread of lineage centres; types of a lineage are ``0.45 * type_separation`` apart.
    noise
        Within-type standard deviation of the first dimension.
    """
    if n_dims < 2 or n_batches < 1 or n_types < 1:
        raise ValueError(f"need n_dims >= 2, n_batches >= 1, n_types >= 1; got {n_dims}, {n_batches}, {n_types}")
    rng = np.random.default_rng([seed, 0])
    dim_scale = 1.0 / np.sqrt(1.0 + np.arange(n_dims) / 6.0)
    n_lineages = int(np.ceil(np.sqrt(n_types)))
    lineages = rng.normal(0.0, type_separation, size=(n_lineages, n_dims)) * dim_scale
    members = rng.integers(0, n_lineages, size=n_types)
    members[: min(n_types, n_lineages)] = np.arange(min(n_types, n_lineages))
    centres = lineages[members] + rng.normal(0.0, 0.45 * type_separation, size=(n_types, n_dims)) * dim_scale
    axes = rng.normal(size=(n_types, 2, n_dims)) * dim_scale
    axes /= np.linalg.norm(axes, axis=2, keepdims=True)
    axes *= np.array([2.0, 1.2])[None, :, None] * noise
    shift = rng.normal(size=(n_batches, n_dims)) * dim_scale
    shift *= batch_effect * noise / np.linalg.norm(shift, axis=1, keepdims=True)
    type_shift = rng.normal(0.0, 0.15 * batch_effect * noise / np.sqrt(n_dims), size=(n_batches, n_types, n_dims)) * dim_scale * 4
    batch_noise = rng.uniform(0.85, 1.15, size=n_batches)
    batch_probs = rng.dirichlet(np.full(n_batches, 4.0))
    base = np.sort(rng.dirichlet(np.full(n_types, 1.5)))[::-1]
    type_probs = np.vstack([rng.dirichlet(20.0 * n_types * base + 0.5) for _ in range(n_batches)])
    return EmbeddingDesign(
        n_dims=n_dims,
        n_batches=n_batches,
        n_types=n_types,
        seed=seed,
        dim_scale=(dim_scale * noise).astype(np.float64),
        centres=centres,
        type_axes=axes,
        batch_shift=shift,
        batch_type_shift=type_shift,
        batch_noise=batch_noise,
        batch_probs=batch_probs,
        type_probs=type_probs,
    )


def _block(design: EmbeddingDesign, index: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells of block ``index`` (the first ``n`` of its :data:`BLOCK` cells)."""
    rng = np.random.default_rng([design.seed, 1, index])
    batch = np.searchsorted(np.cumsum(design.batch_probs), rng.random(BLOCK), side="right")
    batch = np.minimum(batch, design.n_batches - 1)
    cumulative = np.cumsum(design.type_probs, axis=1)
    types = (rng.random(BLOCK)[:, None] > cumulative[batch]).sum(axis=1)
    types = np.minimum(types, design.n_types - 1)
    noise = rng.standard_normal((BLOCK, design.n_dims)) * design.dim_scale
    spread = rng.standard_normal((BLOCK, 2))
    batch, types, noise, spread = batch[:n], types[:n], noise[:n], spread[:n]
    x = design.centres[types] + design.batch_shift[batch] + design.batch_type_shift[batch, types]
    x += noise * design.batch_noise[batch, None]
    x += np.einsum("nk,nkd->nd", spread, design.type_axes[types])
    return x.astype(np.float32), batch.astype(np.int16), types.astype(np.int16)


def iter_blocks(
    n_cells: int, design: EmbeddingDesign, *, start: int = 0, stop: int | None = None
) -> Iterator[tuple[int, int, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(first, last, embedding, batch_codes, type_codes)`` for cells ``start:stop``, block by block."""
    stop = n_cells if stop is None else min(stop, n_cells)
    position = start
    while position < stop:
        index = position // BLOCK
        block_start = index * BLOCK
        n = min(BLOCK, n_cells - block_start)
        x, b, t = _block(design, index, n)
        lo, hi = position - block_start, min(stop, block_start + n) - block_start
        yield position, block_start + hi, x[lo:hi], b[lo:hi], t[lo:hi]
        position = block_start + hi


def _categorical(codes: np.ndarray, names: list[str]) -> object:
    import pandas as pd

    return pd.Categorical.from_codes(codes.astype(np.int64), categories=names)


def make_embedding(
    n_cells: int,
    n_dims: int = 50,
    n_batches: int = 4,
    n_types: int = 12,
    *,
    seed: int = 0,
    batch_effect: float = 4.0,
    type_separation: float = 3.0,
    noise: float = 1.0,
) -> AnnData:
    """An in-memory synthetic embedding as AnnData.

    ``X`` and ``obsm['X_pca']`` are the same float32 (cells x ``n_dims``) array (no copy);
    ``obs['batch']`` and ``obs['cell_type']`` are categorical (``batch_0``..., ``type_0``...);
    ``uns['dance_embedding'] = 'X_pca'`` declares the embedding (dance's models integrate it as is).
    Parameters as in :func:`make_design`. Equal to what :func:`write_embedding` writes.

    Examples
    --------
    >>> adata = make_embedding(10_000, n_batches=3, n_types=8, seed=1)
    >>> adata.obsm["X_pca"].shape
    (10000, 50)
    """
    import anndata as ad
    import pandas as pd

    design = make_design(n_dims, n_batches, n_types, seed=seed, batch_effect=batch_effect, type_separation=type_separation, noise=noise)
    x = np.empty((n_cells, n_dims), dtype=np.float32)
    batch = np.empty(n_cells, dtype=np.int16)
    types = np.empty(n_cells, dtype=np.int16)
    for lo, hi, xb, bb, tb in iter_blocks(n_cells, design):
        x[lo:hi], batch[lo:hi], types[lo:hi] = xb, bb, tb
    obs = pd.DataFrame(
        {"batch": _categorical(batch, design.batch_names), "cell_type": _categorical(types, design.type_names)},
        index=pd.Index([f"cell_{i}" for i in range(n_cells)]),
    )
    var = pd.DataFrame(index=[f"PC{j + 1}" for j in range(n_dims)])
    adata = ad.AnnData(X=x, obs=obs, var=var)
    adata.obsm["X_pca"] = x
    adata.uns["synthetic_scale"] = {"seed": seed, "n_batches": n_batches, "n_types": n_types, "batch_effect": batch_effect}
    adata.uns["dance_embedding"] = "X_pca"  # the task contract passes it as use_rep to embedding models
    return adata


def _set_encoding(node: object, kind: str, version: str) -> None:
    node.attrs["encoding-type"] = kind  # type: ignore[attr-defined]
    node.attrs["encoding-version"] = version  # type: ignore[attr-defined]


def write_embedding(
    path: str | Path,
    n_cells: int,
    n_dims: int = 50,
    n_batches: int = 4,
    n_types: int = 12,
    *,
    seed: int = 0,
    key: str = "X_pca",
    batch_effect: float = 4.0,
    type_separation: float = 3.0,
    noise: float = 1.0,
    format: Literal["h5ad", "zarr"] | None = None,
    overwrite: bool = False,
    progress: bool | None = None,
) -> Path:
    """Write a synthetic embedding to disk block by block (peak memory of a few blocks).

    Parameters
    ----------
    path
        ``*.h5ad`` or ``*.zarr`` (or give ``format``).
    n_cells, n_dims, n_batches, n_types, seed, batch_effect, type_separation, noise
        As in :func:`make_embedding`; the values written are identical to it.
    key
        The embedding goes to ``obsm[key]``. In ``.h5ad`` files ``X`` is a hard link to the same
        HDF5 dataset (no second copy), so the file is also a valid "PC dataset" with the
        embedding in ``X``; ``.zarr`` stores have the embedding only in ``obsm[key]``.
    overwrite
        Replace an existing file.

    Returns
    -------
    The path. ``anndata.read_h5ad(path, backed="r")`` / ``anndata.read_zarr(path)`` read it, and
    :func:`dance.single.batch_integration.optimal_transport.centroid_integration.integrate_centroids` integrates it chunk by
    chunk without loading it.
    """
    from tqdm.auto import tqdm

    path = Path(path)
    fmt = format or ("zarr" if path.suffix == ".zarr" else "h5ad")
    if path.exists():
        if not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
        if path.is_dir():
            import shutil

            shutil.rmtree(path)
        else:
            path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    design = make_design(n_dims, n_batches, n_types, seed=seed, batch_effect=batch_effect, type_separation=type_separation, noise=noise)
    blocks = tqdm(
        iter_blocks(n_cells, design),
        total=-(-n_cells // BLOCK),
        desc=f"writing {path.name}",
        unit="block",
        disable=(not progress) if progress is not None else None,
    )
    uns = {
        "synthetic_scale": {"seed": seed, "n_batches": n_batches, "n_types": n_types, "batch_effect": batch_effect},
        "dance_embedding": key,
    }
    if fmt == "h5ad":
        _write_h5ad(path, n_cells, design, key, blocks, uns)
    elif fmt == "zarr":
        _write_zarr(path, n_cells, design, key, blocks, uns)
    else:
        raise ValueError(f"format must be 'h5ad' or 'zarr'; got {fmt!r}")
    return path


def _write_h5ad(path: Path, n_cells: int, design: EmbeddingDesign, key: str, blocks: object, uns: dict) -> None:
    import h5py
    import pandas as pd
    from anndata.io import write_elem

    strings = h5py.string_dtype("utf-8")
    with h5py.File(path, "w") as f:
        _set_encoding(f, "anndata", "0.1.0")
        obs = f.create_group("obs")
        _set_encoding(obs, "dataframe", "0.2.0")
        obs.attrs["_index"] = "_index"
        obs.attrs["column-order"] = np.array(["batch", "cell_type"], dtype=object)
        index = obs.create_dataset("_index", shape=(n_cells,), dtype=strings, chunks=(min(n_cells, BLOCK),))
        _set_encoding(index, "string-array", "0.2.0")
        codes = {}
        for column, names in (("batch", design.batch_names), ("cell_type", design.type_names)):
            group = obs.create_group(column)
            _set_encoding(group, "categorical", "0.2.0")
            group.attrs["ordered"] = False
            write_elem(group, "categories", np.array(names, dtype=object))
            codes[column] = group.create_dataset("codes", shape=(n_cells,), dtype=np.int16)
            _set_encoding(codes[column], "array", "0.2.0")
        x = f.create_dataset("X", shape=(n_cells, design.n_dims), dtype=np.float32)
        _set_encoding(x, "array", "0.2.0")
        for lo, hi, xb, bb, tb in blocks:  # type: ignore[attr-defined]
            x[lo:hi] = xb
            codes["batch"][lo:hi] = bb
            codes["cell_type"][lo:hi] = tb
            index[lo:hi] = np.array([f"cell_{i}" for i in range(lo, hi)], dtype=object)
        obsm = f.create_group("obsm")
        _set_encoding(obsm, "dict", "0.1.0")
        obsm[key] = x  # hard link: the same dataset, no copy
        write_elem(f, "var", pd.DataFrame(index=[f"PC{j + 1}" for j in range(design.n_dims)]))
        for name in ("layers", "obsp", "varm", "varp"):
            write_elem(f, name, {})
        write_elem(f, "uns", uns)


def _write_zarr(path: Path, n_cells: int, design: EmbeddingDesign, key: str, blocks: object, uns: dict) -> None:
    import anndata as ad
    import pandas as pd
    import zarr
    from anndata.io import write_elem

    root = zarr.open_group(str(path), mode="w", zarr_format=ad.settings.zarr_write_format)
    _set_encoding(root, "anndata", "0.1.0")
    batch = np.empty(n_cells, dtype=np.int16)
    types = np.empty(n_cells, dtype=np.int16)
    obsm = root.create_group("obsm")
    _set_encoding(obsm, "dict", "0.1.0")
    array = obsm.create_array(key, shape=(n_cells, design.n_dims), dtype="float32", chunks=(min(n_cells, BLOCK), design.n_dims))
    _set_encoding(array, "array", "0.2.0")
    for lo, hi, xb, bb, tb in blocks:  # type: ignore[attr-defined]
        array[lo:hi] = xb
        batch[lo:hi], types[lo:hi] = bb, tb
    # obs is small next to the embedding (codes are int16); the string index is written in one go
    obs = pd.DataFrame(
        {"batch": _categorical(batch, design.batch_names), "cell_type": _categorical(types, design.type_names)},
        index=pd.Index(np.char.add("cell_", np.arange(n_cells).astype(str)).astype(object)),
    )
    write_elem(root, "obs", obs)
    write_elem(root, "var", pd.DataFrame(index=[f"PC{j + 1}" for j in range(design.n_dims)]))
    for name in ("layers", "obsp", "varm", "varp"):
        write_elem(root, name, {})
    write_elem(root, "uns", uns)
