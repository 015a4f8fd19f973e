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

__all__ = ["edge_index_from_adjacency", "knn_adjacency", "normalize_adjacency", "sparse_adjacency"]


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
