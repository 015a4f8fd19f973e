"""scDeepsort's weighted graph aggregator on the cell-gene graph (Shao et al. 2021).

Nodes are genes and cells. Gene ``g`` sends to cell ``c`` the message ``beta_g * w_cg * h_g``;
training cell ``c`` sends to gene ``g`` the message ``beta_g * w_gc * h_c``; every node keeps its
own state through a self loop weighted ``alpha_gene`` or ``alpha_cell`` (one learnable confidence
per gene plus the two self-loop confidences, all starting at 1). A node's new state is the mean of
its incoming messages, self loop included, passed through ``Linear -> ReLU`` (DANCE appendix
eq. 13). Edge weights ``w`` are the cell's expression, rescaled per receiving node to average 1
over its in-edges (:func:`cell_gene_operators`); the self loop has weight 1.

Query cells receive messages from genes but send none, so adding them to the graph does not
change what the training cells or the genes compute.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

__all__ = ["CellGeneOperators", "ScDeepsortNet", "cell_gene_operators", "mean_operator", "sparse_rows"]


class CellGeneOperators:
    """The mean-aggregation operators of the cell-gene graph, as scipy CSR matrices.

    ``to_cell[c, g] = w'_cg / (deg_c + 1)`` and ``cell_self[c] = 1 / (deg_c + 1)``: a cell's new
    state is ``to_cell @ (beta * H_genes) + alpha_cell * cell_self * h_c``. ``to_gene`` and
    ``gene_self`` are the same for genes receiving from the training cells.
    """

    def __init__(self, to_cell: sp.csr_matrix, cell_self: np.ndarray, to_gene: sp.csr_matrix, gene_self: np.ndarray) -> None:
        self.to_cell = to_cell
        self.cell_self = cell_self
        self.to_gene = to_gene
        self.gene_self = gene_self


def mean_operator(weights: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """Rows of in-edge weights -> (normalised weights / (deg + 1), 1 / (deg + 1))."""
    weights = sp.csr_matrix(weights, dtype=np.float64)
    weights.eliminate_zeros()
    degree = np.diff(weights.indptr).astype(np.float64)
    sums = np.asarray(weights.sum(axis=1)).ravel()
    # w' = deg * w / sum(w): the in-edge weights of a node average 1 (scDeepsort's normalize_weight)
    scale = np.divide(degree, sums, out=np.zeros_like(degree), where=sums > 0) / (degree + 1.0)
    return sp.csr_matrix(sp.diags(scale) @ weights, dtype=np.float32), (1.0 / (degree + 1.0)).astype(np.float32)


def cell_gene_operators(expression: Any, train: np.ndarray) -> CellGeneOperators:
    """Operators of the graph whose edge weights are ``expression`` (cells x genes, non-negative).

    Every cell receives from the genes it expresses; genes receive only from ``train`` cells.
    """
    expression = sp.csr_matrix(expression, dtype=np.float64)
    to_cell, cell_self = mean_operator(expression)
    to_gene, gene_self = mean_operator(expression[np.flatnonzero(train)].T.tocsr())
    return CellGeneOperators(to_cell, cell_self, to_gene, gene_self)


def sparse_rows(matrix: sp.csr_matrix, rows: np.ndarray | None, device: torch.device | str) -> torch.Tensor:
    """Rows of a scipy CSR matrix as a torch sparse COO tensor on ``device``."""
    sub = matrix if rows is None else matrix[rows]
    coo = sub.tocoo()
    index = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    values = torch.from_numpy(coo.data.astype(np.float32))
    return torch.sparse_coo_tensor(index, values, coo.shape, device=device, check_invariants=False).coalesce()


class ScDeepsortNet(nn.Module):
    """Weighted graph aggregator layers and a linear classification head.

    Parameters
    ----------
    n_genes
        Number of gene nodes (one confidence ``beta`` each).
    dim_in
        Dimension of the initial node features (PCA components).
    dim_hidden
        Width of every aggregator layer's output.
    n_classes
        Number of training cell types.
    n_layers
        Aggregator layers (scDeepsort: 1).
    dropout
        Dropout on each layer's input node states (scDeepsort: 0.1).
    """

    def __init__(self, n_genes: int, dim_in: int, dim_hidden: int, n_classes: int, *, n_layers: int = 1, dropout: float = 0.1) -> None:
        super().__init__()
        # confidences: [0, n_genes) beta per gene, n_genes the gene self loop, n_genes + 1 the cell self loop
        self.alpha = nn.Parameter(torch.ones(n_genes + 2, 1))
        self.n_genes = n_genes
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        dims = [dim_in] + [dim_hidden] * n_layers
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(dims))
        for layer in self.layers:
            nn.init.xavier_uniform_(layer.weight, gain=nn.init.calculate_gain("relu"))
        self.head = nn.Linear(dim_hidden, n_classes)
        nn.init.xavier_uniform_(self.head.weight, gain=nn.init.calculate_gain("relu"))

    @property
    def beta(self) -> torch.Tensor:
        return self.alpha[: self.n_genes]

    def _aggregate_cells(self, to_cell: torch.Tensor, cell_self: torch.Tensor, genes: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
        return torch.sparse.mm(to_cell, self.beta * genes) + self.alpha[self.n_genes + 1] * cell_self[:, None] * cells

    def forward(
        self,
        gene_features: torch.Tensor,
        cell_features: torch.Tensor,
        to_cell: torch.Tensor,
        cell_self: torch.Tensor,
        *,
        train_cells: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
        to_gene: torch.Tensor | None = None,
        gene_self: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits of the cells whose rows ``to_cell`` / ``cell_self`` / ``cell_features`` hold.

        With more than one layer, the gene states of deeper layers need the training cells'
        states: ``train_cells = (features, to_cell, cell_self)`` of all training cells and the
        gene operators ``to_gene`` / ``gene_self``.
        """
        genes, cells = gene_features, cell_features
        if len(self.layers) > 1:
            if train_cells is None or to_gene is None or gene_self is None:
                raise ValueError("a multi-layer scDeepsort needs the training cells and the gene operators")
            t_features, t_to_cell, t_self = train_cells
        for depth, layer in enumerate(self.layers):
            genes_in, cells_in = self.dropout(genes), self.dropout(cells)
            new_cells = torch.relu(layer(self._aggregate_cells(to_cell, cell_self, genes_in, cells_in)))
            if depth < len(self.layers) - 1:
                t_in = self.dropout(t_features)
                gene_messages = self.beta * torch.sparse.mm(to_gene, t_in) + self.alpha[self.n_genes] * gene_self[:, None] * genes_in
                new_t = torch.relu(layer(self._aggregate_cells(t_to_cell, t_self, genes_in, t_in)))
                genes = torch.relu(layer(gene_messages))
                t_features = new_t
            cells = new_cells
        return self.head(cells)
