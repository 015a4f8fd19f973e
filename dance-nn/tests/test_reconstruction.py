from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from dance.nn.reconstruction import inner_product_mse


def _random_adjacency(n: int, *, symmetric: bool, seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    a = sp.random(n, n, density=0.1, random_state=rng, format="csr")
    a = (a + a.T) if symmetric else a
    return ((a + sp.eye(n)) > 0).astype(np.float32).tocsr()


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("block_size", [1, 7, 64, 1000])
def test_equals_the_dense_loss_in_value_and_gradient(symmetric, block_size):
    adjacency = _random_adjacency(50, symmetric=symmetric)
    torch.manual_seed(0)
    dense_h = torch.randn(50, 4, requires_grad=True)
    blocked_h = dense_h.detach().clone().requires_grad_(True)
    expected = F.mse_loss(torch.sigmoid(dense_h @ dense_h.T), torch.from_numpy(adjacency.toarray()))
    (2.5 * expected).backward()
    loss = inner_product_mse(blocked_h, adjacency, block_size=block_size)
    (2.5 * loss).backward()  # the upstream gradient scales the stored one
    assert torch.isclose(loss.detach(), expected.detach(), rtol=1e-6)
    assert torch.allclose(blocked_h.grad, dense_h.grad, rtol=1e-5, atol=1e-9)


def test_no_gradient_is_computed_without_requires_grad():
    h = torch.randn(10, 3)
    loss = inner_product_mse(h, _random_adjacency(10, symmetric=True))
    assert not loss.requires_grad and float(loss) > 0


def test_wrong_shape_names_both_sizes():
    with pytest.raises(ValueError, match=r"adjacency has shape \(9, 9\), expected \(10, 10\)"):
        inner_product_mse(torch.randn(10, 3), sp.eye(9))
