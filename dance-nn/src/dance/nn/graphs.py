"""From the graphs dance's transforms build (scipy sparse matrices in ``obsp`` / ``layers``) to the
tensors torch_geometric layers take.

Convention: an adjacency matrix ``A`` is read as "row ``i`` aggregates from column ``j``", i.e.
a layer computes ``A @ X``. In torch_geometric's ``edge_index`` messages flow from
``edge_index[0]`` (source) to ``edge_index[1]`` (target), so ``A[i, j]`` becomes the edge
``j -> i`` with weight ``A[i, j]``. torch_geometric's layers also accept the transposed sparse
adjacency ``adj_t`` (targets x sources) -- which is ``A`` itself -- as a torch sparse tensor; they
then aggregate with one sparse-dense product instead of materialising a message per edge, which
is several times faster on CPUs (:func:`sparse_adjacency`).
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
import torch

__all__ = [
    "BipartiteMean",
    "EdgeAggregation",
    "WeightedMeanConv",
    "edge_index_from_adjacency",
    "knn_adjacency",
    "normalize_adjacency",
    "sparse_adjacency",
    "sparse_tensor",
]


def knn_adjacency(distances: Any, *, symmetric: bool = True, self_loops: bool = True) -> sp.csr_matrix:
    """Binary adjacency of a kNN graph from its distance matrix (``obsp['distances']``: row ``i``
    holds the distances to its neighbours, self excluded), optionally symmetrised (``A or Aᵀ``)
    and with self loops.
    """
    adjacency = sp.csr_matrix(distances, dtype=np.float32, copy=True)
    adjacency.data[:] = 1.0
    if symmetric:
        adjacency = adjacency.maximum(adjacency.T).tocsr()
    adjacency = adjacency - sp.diags(adjacency.diagonal())  # no duplicate self loops
    if self_loops:
        adjacency = adjacency + sp.eye(adjacency.shape[0], dtype=np.float32)
    adjacency = sp.csr_matrix(adjacency, dtype=np.float32)
    adjacency.eliminate_zeros()
    return adjacency


def normalize_adjacency(adjacency: Any, mode: Literal["row", "symmetric"] = "symmetric") -> sp.csr_matrix:
    """``D⁻¹ A`` (``row``, mean aggregation) or ``D^-1/2 A D^-1/2`` (``symmetric``, GCN), with ``D``
    the row sums of ``A``; rows summing to zero stay zero.
    """
    adjacency = sp.csr_matrix(adjacency, dtype=np.float64)
    degrees = np.asarray(adjacency.sum(axis=1)).ravel()
    with np.errstate(divide="ignore"):
        if mode == "row":
            inverse = np.where(degrees > 0, 1.0 / degrees, 0.0)
            out = sp.diags(inverse) @ adjacency
        elif mode == "symmetric":
            inverse = np.where(degrees > 0, 1.0 / np.sqrt(degrees), 0.0)
            out = sp.diags(inverse) @ adjacency @ sp.diags(inverse)
        else:
            raise ValueError(f"unknown normalisation '{mode}'")
    return sp.csr_matrix(out, dtype=np.float32)


def edge_index_from_adjacency(adjacency: Any, device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """``(edge_index, edge_weight)`` for torch_geometric from a (weighted) adjacency matrix, such
    that message passing with these weights computes ``adjacency @ X``.
    """
    coo = sp.coo_matrix(adjacency)
    edge_index = torch.from_numpy(np.vstack([coo.col, coo.row]).astype(np.int64))
    edge_weight = torch.from_numpy(coo.data.astype(np.float32))
    return edge_index.to(device), edge_weight.to(device)


def sparse_adjacency(adjacency: Any, device: str | torch.device = "cpu") -> torch.Tensor:
    """``adjacency`` as a torch sparse CSR tensor (float32): the ``adj_t`` argument of
    torch_geometric layers, with which message passing computes ``adjacency @ X``.
    """
    csr = sp.csr_matrix(adjacency, dtype=np.float32)
    csr.sort_indices()
    with warnings.catch_warnings():  # "sparse CSR support is in beta": the product we use is stable
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(csr.indptr.astype(np.int64)),
            torch.from_numpy(csr.indices.astype(np.int64)),
            torch.from_numpy(csr.data),
            size=csr.shape,
            check_invariants=False,  # a sorted scipy CSR is valid by construction; torch warns when left implicit
        ).to(device)


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


class _BipartiteProduct(torch.autograd.Function):
    @staticmethod
    def forward(ctx, values: torch.Tensor, h: torch.Tensor, graph: BipartiteMean) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(values)
        ctx.graph = graph
        return torch.sparse_csr_tensor(graph.crow, graph.col, values, graph.shape, check_invariants=False) @ h

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[None, torch.Tensor | None, None]:  # type: ignore[override]
        (values,) = ctx.saved_tensors
        graph = ctx.graph
        grad_h = None
        if ctx.needs_input_grad[1]:
            transposed = torch.sparse_csr_tensor(
                graph.crow_t, graph.row[graph.perm_t], values[graph.perm_t], graph.shape[::-1], check_invariants=False
            )
            grad_h = transposed @ grad
        return None, grad_h, None


class BipartiteMean:
    """Mean of edge-weighted messages over a fixed bipartite graph, in both directions:
    ``forward(h_col)`` gives ``out_i = (1 / deg_i) sum_j w_ij h_j`` for every row node ``i`` and
    ``backward_direction(h_row)`` the same for column nodes over the transposed edges.

    This is the aggregation of DGL's ``SAGEConv(aggregator_type="mean")`` called with an
    ``edge_weight`` (the weighted messages summed, divided by the in-degree) that scMoGNN uses on
    its cell-feature graph (Wen et al. 2022, KDD), computed as one sparse-dense product per layer
    instead of one message per edge (a cells x features graph has millions of edges). Edge weights
    may be dropped out per call (``dropout``, scMoGNN's edge dropout); the degrees stay those of
    the full graph, as DGL's mean counts every in-edge.

    Parameters
    ----------
    matrix
        Rows x columns scipy sparse matrix; its non-zeros are the edges and their weights
        (e.g. cells x features values).
    """

    def __init__(self, matrix: Any, device: str | torch.device = "cpu") -> None:
        csr = sp.csr_matrix(matrix, dtype=np.float32)
        csr.sum_duplicates()
        csr.eliminate_zeros()
        self.shape = csr.shape
        rows = np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr))
        self.crow = torch.as_tensor(csr.indptr.astype(np.int64), device=device)
        self.col = torch.as_tensor(csr.indices.astype(np.int64), device=device)
        self.row = torch.as_tensor(rows.astype(np.int64), device=device)
        self.values = torch.as_tensor(csr.data, device=device)
        by_col = np.lexsort((rows, csr.indices))
        self.perm_t = torch.as_tensor(by_col, device=device)
        self.crow_t = torch.as_tensor(np.concatenate([[0], np.cumsum(np.bincount(csr.indices, minlength=csr.shape[1]))]), device=device)
        self.row_degree = torch.as_tensor(np.diff(csr.indptr).clip(1).astype(np.float32), device=device)
        self.col_degree = torch.as_tensor(np.bincount(csr.indices, minlength=csr.shape[1]).clip(1).astype(np.float32), device=device)
        self._transposed: BipartiteMean | None = None

    @property
    def n_edges(self) -> int:
        return int(self.values.numel())

    def _weights(self, dropout: float, training: bool) -> torch.Tensor:
        return torch.nn.functional.dropout(self.values, p=dropout, training=training) if dropout > 0 else self.values

    def __call__(self, h_col: torch.Tensor, *, dropout: float = 0.0, training: bool = False) -> torch.Tensor:
        """Mean over each row node's edges of ``w_ij * h_col[j]``."""
        return _BipartiteProduct.apply(self._weights(dropout, training), h_col, self) / self.row_degree[:, None]

    def transposed(self) -> BipartiteMean:
        """The same edges read from the column nodes (built once, on first use)."""
        if self._transposed is None:
            device = self.values.device
            csr = sp.csr_matrix((self.values.cpu().numpy(), self.col.cpu().numpy(), self.crow.cpu().numpy()), shape=self.shape)
            self._transposed = BipartiteMean(csr.T.tocsr(), device=device)
        return self._transposed


def _message_passing_base() -> type:
    from torch_geometric.nn import MessagePassing

    return MessagePassing


class WeightedMeanConv(_message_passing_base()):
    """GraphSAGE convolution with a mean aggregation of edge-weighted messages:
    ``out_i = W_self x_i + W_neigh (1 / deg_i) sum_j w_ij x_j + b`` (Hamilton, Ying & Leskovec 2017).

    This is DGL's ``SAGEConv(aggregator_type="mean")`` called with ``edge_weight`` (the mean of
    ``w_ij * x_j`` over the in-edges, i.e. the weighted sum over the in-degree), which scMoGNN uses
    on its cell-feature graph; torch_geometric's ``SAGEConv`` takes no edge weights. Works on
    bipartite graphs: pass ``x=(x_source, x_target)``.

    Parameters
    ----------
    in_channels
        Features of the source nodes, or ``(source, target)`` when they differ.
    out_channels
        Output features.
    bias
        Add a learnable bias (DGL's ``SAGEConv`` default).
    """

    def __init__(self, in_channels: int | tuple[int, int], out_channels: int, *, bias: bool = True) -> None:
        super().__init__(aggr="mean")
        source_channels, target_channels = in_channels if isinstance(in_channels, tuple) else (in_channels, in_channels)
        self.lin_neigh = torch.nn.Linear(source_channels, out_channels, bias=False)
        self.lin_self = torch.nn.Linear(target_channels, out_channels, bias=False)
        self.bias = torch.nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(
        self, x: torch.Tensor | tuple[torch.Tensor, torch.Tensor], edge_index: torch.Tensor, edge_weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        source, target = x if isinstance(x, tuple) else (x, x)
        aggregated = self.propagate(edge_index, x=(source, target), edge_weight=edge_weight, size=(source.shape[0], target.shape[0]))
        out = self.lin_self(target) + self.lin_neigh(aggregated)
        return out if self.bias is None else out + self.bias

    def message(self, x_j: torch.Tensor, edge_weight: torch.Tensor | None) -> torch.Tensor:
        return x_j if edge_weight is None else edge_weight.view(-1, 1) * x_j
