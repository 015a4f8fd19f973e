"""The scale generator: identical in memory and on disk, block-addressable, with real structure."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pytest

from dance.single.batch_integration.synthetic_scale import BLOCK, iter_blocks, make_design, make_embedding, write_embedding


def test_in_memory_embedding_has_the_documented_layout():
    adata = make_embedding(3000, n_dims=20, n_batches=3, n_types=6, seed=2)
    assert adata.shape == (3000, 20) and adata.X.dtype == np.float32
    assert adata.obsm["X_pca"] is adata.X or np.shares_memory(adata.obsm["X_pca"], adata.X)
    assert list(adata.obs["batch"].cat.categories) == ["batch_0", "batch_1", "batch_2"]
    assert set(adata.obs["cell_type"].cat.categories) == {f"type_{t}" for t in range(6)}
    assert adata.obs_names[0] == "cell_0"


def test_same_seed_same_values_other_seed_other_values():
    a, b, c = (make_embedding(500, seed=s).X for s in (1, 1, 2))
    assert np.array_equal(a, b) and not np.allclose(a, c)


def test_any_range_of_cells_is_regenerated_identically_across_block_boundaries():
    n = BLOCK + 1000
    design = make_design(8, 2, 3, seed=5)
    full = np.concatenate([x for *_, x, _, _ in iter_blocks(n, design)])
    lo, hi = BLOCK - 300, BLOCK + 200
    part = np.concatenate([x for *_, x, _, _ in iter_blocks(n, design, start=lo, stop=hi)])
    assert np.array_equal(part, full[lo:hi])


@pytest.mark.parametrize("suffix", [".h5ad", ".zarr"])
def test_written_file_equals_the_in_memory_embedding(tmp_path, suffix):
    n = BLOCK + 123  # more than one block
    path = write_embedding(tmp_path / f"e{suffix}", n, n_dims=10, n_batches=3, n_types=5, seed=4)
    memory = make_embedding(n, n_dims=10, n_batches=3, n_types=5, seed=4)
    disk = ad.read_h5ad(path) if suffix == ".h5ad" else ad.read_zarr(path)
    assert np.array_equal(disk.obsm["X_pca"], memory.X)
    assert (disk.obs["batch"] == memory.obs["batch"]).all() and (disk.obs["cell_type"] == memory.obs["cell_type"]).all()
    assert (disk.obs_names == memory.obs_names).all()
    if suffix == ".h5ad":
        assert np.array_equal(disk.X, memory.X)  # X is a hard link to the embedding
        backed = ad.read_h5ad(path, backed="r")
        assert np.array_equal(backed.X[100:200], memory.X[100:200])
    with pytest.raises(FileExistsError):
        write_embedding(path, 10, n_dims=10)


def test_h5ad_stores_the_embedding_once(tmp_path):
    path = write_embedding(tmp_path / "e.h5ad", 20000, n_dims=50, seed=0)
    assert path.stat().st_size < 1.5 * 20000 * 50 * 4  # measured 1.27 (obs names); a second copy would be 2


def test_batches_are_shifted_and_types_separated():
    """Before integration, neighbours are mostly of the same batch and of the same type."""
    from dance.core.neighbors import knn

    adata = make_embedding(4000, seed=0)
    batch = adata.obs["batch"].cat.codes.to_numpy()
    types = adata.obs["cell_type"].cat.codes.to_numpy()
    indices, _ = knn(adata.X, 11)
    same_batch = (batch[indices[:, 1:]] == batch[:, None]).mean()
    same_type = (types[indices[:, 1:]] == types[:, None]).mean()
    expected_if_mixed = float(np.sum(np.bincount(batch) ** 2) / len(batch) ** 2)
    assert same_batch > 0.9 > expected_if_mixed + 0.3  # measured 0.99 vs 0.29
    assert same_type > 0.95
    # batches differ in cell-type composition (unbalanced OT has something to do)
    table = np.array([np.bincount(types[batch == b], minlength=types.max() + 1) for b in range(batch.max() + 1)], dtype=float)
    table /= table.sum(1, keepdims=True)
    assert np.abs(table - table.mean(0)).max() > 0.02
