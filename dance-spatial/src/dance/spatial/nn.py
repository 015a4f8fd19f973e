"""Torch building blocks shared by dance-spatial's graph models."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

__all__ = ["EdgeAggregation", "sparse_tensor"]


def sparse_tensor(matrix: sp.spmatrix, device: str | torch.device = "cpu") -> torch.Tensor:
    """A scipy sparse matrix as a coalesced float32 torch COO tensor.

    Invariant checks are off explicitly: indices from a scipy matrix are in range by construction,
    and torch warns on every first sparse tensor of a process when the choice is left implicit.
    """
    coo = sp.coo_matrix(matrix)
    indices = torch.as_tensor(np.vstack([coo.row, coo.col]).astype(np.int64))
    values = torch.as_tensor(coo.data.astype(np.float32))
    return torch.sparse_coo_tensor(indices, values, coo.shape, device=device, check_invariants=False).coalesce()


class _Aggregate(torch.autograd.Function):
    @staticmethod
    def forward(ctx, weights: torch.Tensor, h: torch.Tensor, graph: EdgeAggregation) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(weights, h)
        ctx.graph = graph
        return torch.sparse_csr_tensor(graph.crow, graph.source, weights, graph.shape, check_invariants=False) @ h

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:  # type: ignore[override]
        weights, h = ctx.saved_tensors
        graph = ctx.graph
        grad_weights = (grad[graph.target] * h[graph.source]).sum(dim=1) if ctx.needs_input_grad[0] else None
        grad_h = None
        if ctx.needs_input_grad[1]:
            transposed = torch.sparse_csr_tensor(
                graph.crow_t, graph.target[graph.perm_t], weights[graph.perm_t], graph.shape, check_invariants=False
            )
            grad_h = transposed @ grad
        return grad_weights, grad_h, None


class EdgeAggregation:
    """``out_i = sum_j w_ij h_j`` over the edges ``j -> i`` of a fixed graph, with learnable edge weights.

    The edges are stored once in compressed-row form (and transposed for the backward pass), so
    each step is one sparse-dense product instead of a scatter over ``edges x features``.

    Parameters
    ----------
    edge_index
        ``2 x E`` array of (source, target) pairs without duplicates.
    n_nodes
        Number of nodes.
    """

    def __init__(self, edge_index: np.ndarray, n_nodes: int, device: str | torch.device = "cpu") -> None:
        source, target = (np.asarray(e, dtype=np.int64) for e in edge_index)
        order = np.lexsort((source, target))  # by target, then source
        source, target = source[order], target[order]
        self.order = torch.as_tensor(order, device=device)
        self.source = torch.as_tensor(source, device=device)
        self.target = torch.as_tensor(target, device=device)
        self.edge_index = torch.stack([self.source, self.target])
        self.crow = torch.as_tensor(np.concatenate([[0], np.cumsum(np.bincount(target, minlength=n_nodes))]), device=device)
        by_source = np.lexsort((target, source))
        self.perm_t = torch.as_tensor(by_source, device=device)
        self.crow_t = torch.as_tensor(np.concatenate([[0], np.cumsum(np.bincount(source, minlength=n_nodes))]), device=device)
        self.shape = (n_nodes, n_nodes)

    def __call__(self, weights: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """Aggregate ``h`` with one weight per edge (in the order of :attr:`edge_index`)."""
        return _Aggregate.apply(weights, h, self)
