"""scMoGNN's graph neural network on the cell-feature bipartite graph (Wen et al. 2022, "Graph
neural networks for multimodal single-cell data integration", KDD; the NeurIPS 2021 modality
prediction winner). Used by :mod:`dance.multi.modality_prediction.scmogcn`."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dance.nn.graphs import BipartiteMean

__all__ = ["ScMoGNNModule"]


class _SAGE(nn.Module):
    """One direction of a bipartite GraphSAGE layer with DGL's mean of edge-weighted messages:
    ``W_self h_target + W_neigh mean_j(w_ij h_j) + b``."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.lin_self = nn.Linear(in_dim, out_dim, bias=False)
        self.lin_neigh = nn.Linear(in_dim, out_dim, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_dim))

    def forward(self, h_target: torch.Tensor, aggregated: torch.Tensor) -> torch.Tensor:
        return self.lin_self(h_target) + self.lin_neigh(aggregated) + self.bias


class ScMoGNNModule(nn.Module):
    """Cells and features as nodes of one graph, an edge per non-zero value of the source
    modality weighted by the value; the cells' states after each of ``conv_layers`` rounds of
    message passing are read out into the target modality.

    As the authors' code (DANCE ``ScMoGCN``, defaults of its example): every cell starts from one
    learnt vector plus its batch features (a linear map of nine per-batch statistics, dropout 0.2),
    every feature from its own embedding, both through a leaky ReLU; each layer updates cells from
    features and features from cells (GraphSAGE, mean of edge-weighted messages, edge dropout),
    then group norm (4 groups), GELU and dropout; from the second layer on each node's input is its
    state concatenated with the state one layer earlier (or the initial one with
    ``initial_residual``); the readout is a linear map of the concatenated cell states of all
    layers (or of their softmax-weighted sum with ``weighted_sum``).

    Parameters
    ----------
    n_features
        Features of the source modality (feature nodes).
    n_outputs
        Features of the target modality (0: no readout layer).
    n_batch_features
        Width of the batch features (0: none).
    hidden
        Width of every node state.
    conv_layers
        Rounds of message passing.
    edge_dropout, dropout
        Dropout of edge weights and of node states.
    """

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        *,
        n_batch_features: int = 9,
        hidden: int = 48,
        conv_layers: int = 4,
        edge_dropout: float = 0.3,
        dropout: float = 0.2,
        initial_residual: bool = False,
        weighted_sum: bool = False,
    ) -> None:
        super().__init__()
        self.edge_dropout, self.dropout = edge_dropout, dropout
        self.initial_residual, self.weighted_sum = initial_residual, weighted_sum
        self.embed_cell = nn.Parameter(torch.empty(hidden).normal_())  # nn.Embedding(2, hid) with every cell id 1
        self.embed_feature = nn.Embedding(n_features, hidden)
        self.batch_encoder = nn.Linear(n_batch_features, hidden) if n_batch_features else None
        self.cell_convs = nn.ModuleList()
        self.feature_convs = nn.ModuleList()
        self.cell_norms = nn.ModuleList()
        self.feature_norms = nn.ModuleList()
        for layer in range(conv_layers):
            width = hidden if layer == 0 else 2 * hidden
            self.cell_convs.append(_SAGE(width, hidden))
            self.feature_convs.append(_SAGE(width, hidden))
            self.cell_norms.append(nn.GroupNorm(4, hidden))
            self.feature_norms.append(nn.GroupNorm(4, hidden))
        self.layer_weights = nn.Parameter(torch.zeros(conv_layers))
        # none when the states are used as they are (scMoGCN v2's joint embedding)
        self.readout = nn.Linear(hidden if weighted_sum else hidden * conv_layers, n_outputs) if n_outputs else None

    def cell_states(
        self, graph: BipartiteMean, batch_features: torch.Tensor | None, feature_index: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The cells' read-out representation (cells x readout width) after message passing on
        ``graph`` (cells x features; the features ``feature_index`` of the full set when the
        graph is a sampled subgraph)."""
        n_cells = graph.shape[0]
        h_feature = F.leaky_relu(self.embed_feature.weight if feature_index is None else self.embed_feature(feature_index))
        h_cell = F.leaky_relu(self.embed_cell).expand(n_cells, -1)
        if self.batch_encoder is not None and batch_features is not None:
            h_cell = h_cell + F.leaky_relu(F.dropout(self.batch_encoder(batch_features), p=0.2, training=self.training))
        history = [(h_feature, h_cell)]
        transposed = graph.transposed()
        for layer, (cell_conv, feature_conv) in enumerate(zip(self.cell_convs, self.feature_convs, strict=True)):
            if layer > 0:
                earlier = history[0] if self.initial_residual else history[-2]
                h_feature = torch.cat([h_feature, earlier[0]], dim=1)
                h_cell = torch.cat([h_cell, earlier[1]], dim=1)
            to_cells = graph(h_feature, dropout=self.edge_dropout, training=self.training)
            to_features = transposed(h_cell, dropout=self.edge_dropout, training=self.training)
            new_cell = cell_conv(h_cell, to_cells)
            new_feature = feature_conv(h_feature, to_features)
            h_cell = F.dropout(F.gelu(self.cell_norms[layer](new_cell)), p=self.dropout, training=self.training)
            h_feature = F.dropout(F.gelu(self.feature_norms[layer](new_feature)), p=self.dropout, training=self.training)
            history.append((h_feature, h_cell))
        cells = [h for _, h in history[1:]]
        if self.weighted_sum:
            weights = torch.softmax(self.layer_weights, dim=0)
            return sum(w * h for w, h in zip(weights, cells, strict=True))
        return torch.cat(cells, dim=1)

    def forward(self, graph: BipartiteMean, batch_features: torch.Tensor | None, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted target modality of the cells ``rows`` (all cells when None)."""
        states = self.cell_states(graph, batch_features)
        assert self.readout is not None, "built without a readout (n_outputs=0)"
        return self.readout(states if rows is None else states[rows])
