from __future__ import annotations

import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from dance.nn.data import AlignedRows, RowMatrix, encode_in_batches, minibatch_indices, predict_in_batches


def test_minibatches_cover_every_index_once_and_are_seeded():
    batches = list(minibatch_indices(10, 4, generator=torch.Generator().manual_seed(0)))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(torch.cat(batches).tolist()) == list(range(10))
    again = list(minibatch_indices(10, 4, generator=torch.Generator().manual_seed(0)))
    assert all(torch.equal(a, b) for a, b in zip(batches, again, strict=True))
    assert torch.cat(list(minibatch_indices(5, 2, shuffle=False))).tolist() == [0, 1, 2, 3, 4]


def test_a_large_sparse_matrix_is_densified_one_batch_at_a_time():
    matrix = sp.random(50, 30, density=0.2, format="csr", random_state=0, dtype=np.float32)
    small = RowMatrix(matrix)
    large = RowMatrix(matrix, dense_limit=10)
    assert small.dense is not None and large.dense is None and large.csr is not None
    index = torch.tensor([3, 7, 0])
    assert torch.equal(small[index], large[index]) and torch.equal(large[index], torch.as_tensor(matrix[[3, 7, 0]].toarray()))
    assert torch.equal(large[slice(2, 5)], small[slice(2, 5)]) and large.all().shape == (50, 30)


def test_aligned_rows_of_paired_modalities():
    rna = ad.AnnData(np.arange(12, dtype=np.float32).reshape(4, 3))
    adt = ad.AnnData(sp.csr_matrix(np.arange(8, dtype=np.float32).reshape(4, 2)))
    adt.obs_names = rna.obs_names
    rows = AlignedRows.from_anndata(rna, adt)
    x, y = rows[torch.tensor([2, 0])]
    assert x.tolist() == [[6, 7, 8], [0, 1, 2]] and y.tolist() == [[4, 5], [0, 1]]
    other = adt.copy()
    other.obs_names = ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match="same cells in the same order"):
        AlignedRows.from_anndata(rna, other)
    with pytest.raises(ValueError, match="not row-aligned"):
        AlignedRows(np.zeros((3, 2)), np.zeros((4, 2)))


def test_evaluation_in_batches_equals_one_pass():
    torch.manual_seed(0)
    linear = torch.nn.Linear(6, 2)
    x = torch.randn(11, 6)
    assert torch.allclose(encode_in_batches(linear, x, batch_size=3), linear(x))
    assert torch.allclose(predict_in_batches(lambda i: linear(x[i]), 11, batch_size=4), linear(x))
